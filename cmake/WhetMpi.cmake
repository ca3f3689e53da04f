# Decides whether dist/ talks MPI. AUTO uses it whenever find_package(MPI) finds it
# (libopenmpi-dev), ON requires it, OFF builds dist/no_mpi.cpp instead: a world of one process
# that refuses to run under mpirun rather than let every rank train alone.
set(WHET_WITH_MPI OFF)
if(NOT WHET_MPI STREQUAL "OFF")
  set(MPI_CXX_SKIP_MPICXX ON)  # the C API only; MPI-2's deprecated C++ bindings stay out
  if(WHET_MPI STREQUAL "ON")
    find_package(MPI REQUIRED COMPONENTS CXX)
  else()
    find_package(MPI COMPONENTS CXX)
  endif()
  if(MPI_CXX_FOUND)
    set(WHET_WITH_MPI ON)
  endif()
endif()
if(WHET_WITH_MPI)
  # Open MPI's launcher takes flags others refuse (--oversubscribe, for the MPI tests).
  set(WHET_MPIEXEC_IS_OPENMPI OFF)
  if(MPIEXEC_EXECUTABLE)
    execute_process(COMMAND ${MPIEXEC_EXECUTABLE} --version OUTPUT_VARIABLE _whet_mpiexec_version
                    ERROR_QUIET RESULT_VARIABLE _whet_mpiexec_rc)
    if(_whet_mpiexec_rc EQUAL 0 AND _whet_mpiexec_version MATCHES "Open MPI|OpenRTE")
      set(WHET_MPIEXEC_IS_OPENMPI ON)
    endif()
  endif()
  message(STATUS "whet: MPI ON (MPI ${MPI_CXX_VERSION}, launcher ${MPIEXEC_EXECUTABLE})")
else()
  message(STATUS "whet: MPI OFF (dist/ runs single-process)")
endif()
