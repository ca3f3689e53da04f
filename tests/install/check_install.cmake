# The install_consumer test: installs the build into a fresh prefix, builds
# examples/finetune.cpp against it as an outside project would (find_package(whet)), and runs
# it. Fails on a header missing from the install, a dependency whetConfig.cmake does not
# find, or a link error.
#   cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -DGENERATOR=... -P check_install.cmake
foreach(var BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "check_install.cmake: -D${var}=... is required")
  endif()
endforeach()

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "install_consumer: ${what} failed (${rc}):\n${out}")
  endif()
  message(STATUS "install_consumer: ${what}: ok")
endfunction()

file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)
run_step("cmake --install" ${CMAKE_COMMAND} --install ${BUILD_DIR} --prefix ${prefix})
foreach(dir core nn optim io data dist models train)
  if(NOT IS_DIRECTORY ${prefix}/include/whet/${dir})
    message(FATAL_ERROR "install_consumer: include/whet/${dir} was not installed")
  endif()
endforeach()
run_step("configure the consumer" ${CMAKE_COMMAND} -S ${SOURCE_DIR}/tests/install -B ${WORK_DIR}/build
         -G ${GENERATOR} -DCMAKE_BUILD_TYPE=Release -DCMAKE_PREFIX_PATH=${prefix}
         "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}" "-DCMAKE_EXE_LINKER_FLAGS=${LINKER_FLAGS}"
         -DWHET_EXAMPLE_SOURCE=${SOURCE_DIR}/examples/finetune.cpp)
run_step("build the consumer" ${CMAKE_COMMAND} --build ${WORK_DIR}/build)
file(MAKE_DIRECTORY ${WORK_DIR}/run)
run_step("run the consumer" ${WORK_DIR}/build/finetune --quick --dir ${WORK_DIR}/run)
run_step("run the installed CLI" ${prefix}/bin/whet --version)
