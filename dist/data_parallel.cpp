// broadcast_module and average_gradients over any Communicator. Tensors of dtypes the
// communicators do not carry travel converted to one that holds all their values (half
// gradients are averaged in float32, as decision 7 keeps reductions in fp32).
#include "dist/data_parallel.h"

#include <algorithm>
#include <cstdint>

#include "core/autograd.h"

namespace whet::dist {
namespace {

DType wire_dtype(DType dt) {
  if (dt == DType::f32 || dt == DType::f64) return dt;
  return is_floating(dt) ? DType::f32 : DType::i64;
}

// One max all-reduce of (v, -v) gives every rank both the maximum and the minimum of v.
struct Extremes {
  std::vector<int64_t> hi, lo;
};
Extremes all_extremes(const std::vector<int64_t>& v, Communicator& comm) {
  const size_t n = v.size();
  std::vector<int64_t> both(2 * n);
  for (size_t i = 0; i < n; ++i) both[i] = v[i], both[n + i] = -v[i];
  Tensor t = Tensor::from_vector(both, {int64_t(2 * n)}, DType::i64);
  comm.all_reduce(t, ReduceOp::max);
  const int64_t* r = t.data<int64_t>();
  Extremes e{std::vector<int64_t>(r, r + n), std::vector<int64_t>(n)};
  for (size_t i = 0; i < n; ++i) e.lo[i] = -r[n + i];
  return e;
}

// A fingerprint of names, shapes and dtypes (FNV-1a, 63 bits so that its negation fits).
int64_t fingerprint(const nn::NamedTensors& tensors) {
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint64_t x) { h = (h ^ x) * 1099511628211ull; };
  for (const auto& [name, t] : tensors) {
    for (char c : name) mix(uint8_t(c));
    mix(uint64_t(t.dtype()));
    for (int64_t d : t.shape()) mix(uint64_t(d));
  }
  return int64_t(h >> 1);
}

// Every rank learns whether all ranks pass the same number of parameters with gradients
// defined for the same ones, of the same sizes, and all throw alike when not: a rank that
// threw alone would leave the others waiting in the next collective forever.
void check_ranks_agree(const std::vector<Tensor>& params, Communicator& comm) {
  const int64_t n = int64_t(params.size());
  Extremes count = all_extremes({n}, comm);
  WHET_CHECK(count.hi[0] == count.lo[0],
             "average_gradients: ranks pass different numbers of parameters (", count.lo[0], " to ",
             count.hi[0], ")");
  // Per parameter: -1 undefined, 0 without a gradient, else 1 + the gradient's element count.
  std::vector<int64_t> sig(size_t(n), 0);
  for (size_t i = 0; i < params.size(); ++i) {
    const Tensor& p = params[i];
    sig[i] = !p.defined() ? -1 : p.grad().defined() ? 1 + p.grad().numel() : 0;
  }
  Extremes e = all_extremes(sig, comm);
  for (size_t i = 0; i < params.size(); ++i) {
    WHET_CHECK(e.lo[i] >= 0, "average_gradients: parameter ", i, " is an undefined tensor",
               e.hi[i] >= 0 ? " on some ranks" : "");
    if (e.hi[i] == e.lo[i]) continue;
    const std::string which =
        detail::cat("parameter ", i, " of shape ", shape_str(params[i].shape()));
    WHET_CHECK(e.lo[i] > 0, "average_gradients: ", which,
               " has a gradient on some ranks and none on others; every rank must compute "
               "gradients for the same parameters (was a layer used on one rank only? freeze "
               "it, or give it a zero gradient)");
    WHET_FAIL("average_gradients: the gradient of ", which,
              " has different sizes on different ranks (", e.lo[i] - 1, " to ", e.hi[i] - 1,
              " elements)");
  }
}

struct Bucket {
  DType wire;
  Device device;
  std::vector<Tensor> grads;
  int64_t numel = 0;
};

// Gradients in parameter order, grouped by (dtype, device) into buckets of at most
// bucket_bytes on the wire; a gradient larger than that travels alone. Every rank builds
// the same sequence, since all hold the same parameters.
std::vector<Bucket> plan_buckets(const std::vector<Tensor>& params, size_t bucket_bytes) {
  std::vector<Bucket> buckets;
  std::vector<size_t> open;  // per (dtype, device): the index of its bucket still filling
  for (const Tensor& p : params) {
    const Tensor& g = p.grad();
    if (!g.defined() || g.numel() == 0) continue;
    auto it = std::find_if(open.begin(), open.end(), [&](size_t b) {
      return buckets[b].grads[0].dtype() == g.dtype() && buckets[b].device == g.device();
    });
    const DType wire = wire_dtype(g.dtype());
    const size_t bytes = size_t(g.numel()) * dtype_size(wire);
    if (it != open.end() && size_t(buckets[*it].numel) * dtype_size(wire) + bytes > bucket_bytes) {
      open.erase(it);
      it = open.end();
    }
    if (it == open.end()) {
      buckets.push_back(Bucket{wire, g.device(), {}, 0});
      open.push_back(buckets.size() - 1);
      it = open.end() - 1;
    }
    Bucket& b = buckets[*it];
    b.grads.push_back(g);
    b.numel += g.numel();
  }
  return buckets;
}

// Scales by 1/world before summing, as DDP's reducer does while copying into its buckets.
void average_bucket(const Bucket& b, Communicator& comm) {
  Tensor flat = Tensor::empty({b.numel}, b.wire, b.device);  // (numel)
  int64_t at = 0;
  for (const Tensor& g : b.grads) {
    flat.slice(at, at + g.numel()).copy_(g.reshape({g.numel()}));
    at += g.numel();
  }
  flat = flat * (1.0 / comm.world_size());
  comm.all_reduce(flat, ReduceOp::sum);
  at = 0;
  for (const Tensor& g : b.grads) {
    Tensor dst = g;
    dst.copy_(flat.slice(at, at + g.numel()).reshape(g.shape()));
    at += g.numel();
  }
}

}  // namespace

namespace {

// Each tensor takes root's values in place, in the given order (the same on every rank).
void broadcast_tensors(const nn::NamedTensors& tensors, Communicator& comm, int root) {
  NoGradGuard no_grad;
  for (const auto& [name, t] : tensors) {
    Tensor dst = t.detach();  // written in place: parameters keep their identity
    const DType wire = wire_dtype(t.dtype());
    if (wire == t.dtype()) {
      comm.broadcast(dst, root);
    } else {
      Tensor on_wire = dst.to(wire);
      comm.broadcast(on_wire, root);
      dst.copy_(on_wire);
    }
  }
}

void check_root(const char* what, int root, const Communicator& comm) {
  WHET_CHECK(root >= 0 && root < comm.world_size(), what, ": root ", root,
             " is not a rank of a group of ", comm.world_size());
}

}  // namespace

void broadcast_module(nn::Module& module, Communicator& comm, int root) {
  check_root("broadcast_module", root, comm);
  if (comm.world_size() == 1) return;
  const nn::NamedTensors state = module.state_dict();
  Extremes e = all_extremes({fingerprint(state)}, comm);
  WHET_CHECK(e.hi[0] == e.lo[0],
             "broadcast_module: the ranks hold different models (parameter "
             "and buffer names, shapes or dtypes differ)");
  broadcast_tensors(state, comm, root);
}

void check_in_step(const nn::NamedTensors& tensors, Communicator& comm, const std::string& what) {
  if (comm.world_size() == 1) return;
  // FNV-1a over names and bytes, 63 bits so that all_extremes can negate it.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](uint8_t x) { h = (h ^ x) * 1099511628211ull; };
  for (const auto& [name, t] : tensors) {
    for (char c : name) mix(uint8_t(c));
    const Tensor host = t.to(Device::cpu());
    const auto* bytes = static_cast<const uint8_t*>(host.raw_data());
    for (size_t i = 0; i < host.nbytes(); ++i) mix(bytes[i]);
  }
  Extremes e = all_extremes({int64_t(h >> 1)}, comm);
  WHET_CHECK(e.hi[0] == e.lo[0], "data parallel: the ranks' ", what, " differ; they should be "
             "bit for bit the same (a rank took another step, or a kernel is not deterministic)");
}

void broadcast_buffers(nn::Module& module, Communicator& comm, int root) {
  check_root("broadcast_buffers", root, comm);
  if (comm.world_size() == 1) return;
  broadcast_tensors(module.named_buffers(), comm, root);
}

void average_gradients(const std::vector<Tensor>& params, Communicator& comm, size_t bucket_bytes) {
  if (comm.world_size() == 1) return;
  WHET_CHECK(bucket_bytes > 0, "average_gradients: bucket_bytes must be positive");
  NoGradGuard no_grad;
  check_ranks_agree(params, comm);
  for (const Bucket& b : plan_buckets(params, bucket_bytes)) average_bucket(b, comm);
}

}  // namespace whet::dist
