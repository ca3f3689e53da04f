// The restricted pickle machine. Opcode semantics follow CPython's Lib/pickle.py
// (_Unpickler.load_*); the meaning of the torch globals follows torch/_utils.py and the
// persistent_load of torch/serialization.py (_load).
#include "io/unpickler.h"

#include <cstring>
#include <map>

#include "core/error.h"
#include "core/shape.h"
#include "io/safetensors_header.h"

namespace whet::io::pickle {

namespace {

// Every opcode's name, for messages about the ones refused.
const char* opcode_name(uint8_t op) {
  // clang-format off
  static const std::map<uint8_t, const char*> names = {
      {'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"},
      {'F', "FLOAT"}, {'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"},
      {'M', "BININT2"}, {'N', "NONE"}, {'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"},
      {'S', "STRING"}, {'T', "BINSTRING"}, {'U', "SHORT_BINSTRING"}, {'V', "UNICODE"},
      {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"}, {'c', "GLOBAL"}, {'d', "DICT"},
      {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"}, {'i', "INST"},
      {'j', "LONG_BINGET"}, {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"},
      {'q', "BINPUT"}, {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"},
      {')', "EMPTY_TUPLE"}, {'u', "SETITEMS"}, {'G', "BINFLOAT"}, {0x80, "PROTO"},
      {0x81, "NEWOBJ"}, {0x82, "EXT1"}, {0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"},
      {0x86, "TUPLE2"}, {0x87, "TUPLE3"}, {0x88, "NEWTRUE"}, {0x89, "NEWFALSE"},
      {0x8a, "LONG1"}, {0x8b, "LONG4"}, {'B', "BINBYTES"}, {'C', "SHORT_BINBYTES"},
      {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"},
      {0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x92, "NEWOBJ_EX"},
      {0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"},
      {0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"}};
  // clang-format on
  auto it = names.find(op);
  return it == names.end() ? "unknown" : it->second;
}

struct GlobalInfo {
  Global global;
  DType dtype;
};

// "module name" as GLOBAL spells it -> meaning. torch.save names typed storages (the dtype of
// the tensor's elements); an UntypedStorage holds bytes.
const std::map<std::string, GlobalInfo>& whitelist() {
  static const std::map<std::string, GlobalInfo> w = {
      {"collections OrderedDict", {Global::ordered_dict, DType::u8}},
      {"torch._utils _rebuild_tensor_v2", {Global::rebuild_tensor_v2, DType::u8}},
      {"torch._utils _rebuild_parameter", {Global::rebuild_parameter, DType::u8}},
      {"torch FloatStorage", {Global::storage_type, DType::f32}},
      {"torch DoubleStorage", {Global::storage_type, DType::f64}},
      {"torch HalfStorage", {Global::storage_type, DType::f16}},
      {"torch BFloat16Storage", {Global::storage_type, DType::bf16}},
      {"torch LongStorage", {Global::storage_type, DType::i64}},
      {"torch IntStorage", {Global::storage_type, DType::i32}},
      {"torch ByteStorage", {Global::storage_type, DType::u8}},
      {"torch BoolStorage", {Global::storage_type, DType::boolean}},
      {"torch UntypedStorage", {Global::storage_type, DType::u8}},
      {"torch.storage UntypedStorage", {Global::storage_type, DType::u8}},
  };
  return w;
}

constexpr size_t kMaxObjects = size_t(1) << 22;

class Machine {
 public:
  Machine(const uint8_t* data, size_t n, const TensorBuilder& build, const std::string& source)
      : p_(data), n_(n), build_(build), source_(source) {}

  Unpickled run() {
    while (true) {
      op_pos_ = pos_;
      uint8_t op = *take(1);
      if (op == '.') break;
      step(op);
    }
    if (stack_.empty()) fail("STOP with an empty stack");
    out_.root = stack_.back();
    return std::move(out_);
  }

 private:
  template <class... Args>
  [[noreturn]] void fail(const Args&... args) const {
    WHET_FAIL(source_, " byte ", op_pos_, ": ", args...);
  }

  const uint8_t* take(size_t k) {
    if (k > n_ - pos_)
      fail(pos_ == n_ ? "the pickle ends without STOP (truncated?)"
                      : "the pickle is truncated inside an opcode");
    const uint8_t* q = p_ + pos_;
    pos_ += k;
    return q;
  }
  uint64_t le(size_t k) {
    const uint8_t* q = take(k);
    uint64_t v = 0;
    for (size_t j = k; j-- > 0;) v = (v << 8) | q[j];
    return v;
  }

  Value pop() {
    if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size()))
      fail("the stack is empty");
    Value v = stack_.back();
    stack_.pop_back();
    return v;
  }
  Value& top() {
    if (stack_.empty() || (!marks_.empty() && marks_.back() == stack_.size()))
      fail("the stack is empty");
    return stack_.back();
  }
  std::vector<Value> pop_mark() {
    if (marks_.empty()) fail("no MARK to pop to");
    size_t m = marks_.back();
    marks_.pop_back();
    std::vector<Value> items(stack_.begin() + std::ptrdiff_t(m), stack_.end());
    stack_.resize(m);
    return items;
  }

  Object* make(Kind k) {
    // Each object costs a few hundred bytes against one byte of opcode: cap them so a small
    // hostile pickle cannot claim gigabytes. A state dict needs about ten per tensor.
    if (out_.arena.size() == kMaxObjects)
      fail("the pickle builds more than ", kMaxObjects, " objects, far more than a state dict");
    out_.arena.push_back(std::make_unique<Object>());
    out_.arena.back()->kind = k;
    return out_.arena.back().get();
  }
  Value object(Object* o) { return Value{o->kind, 0, 0, o}; }
  static Value scalar(Kind k, int64_t i) { return Value{k, i, 0, nullptr}; }

  std::string text(size_t len) {
    const char* s = reinterpret_cast<const char*>(take(len));
    size_t bad = safetensors::utf8_error_offset(s, len);
    if (bad != len) fail("string is not valid UTF-8 (bad byte at offset ", bad, ")");
    return std::string(s, len);
  }
  void push_string(size_t len) {
    Object* o = make(Kind::string);
    o->text = text(len);
    stack_.push_back(object(o));
  }
  std::string line() {
    const uint8_t* start = p_ + pos_;
    const void* nl = std::memchr(start, '\n', n_ - pos_);
    if (!nl) fail("GLOBAL name is not terminated");
    size_t len = size_t(static_cast<const uint8_t*>(nl) - start);
    std::string s = text(len);
    take(1);
    return s;
  }

  void push_global(const std::string& module, const std::string& name) {
    auto it = whitelist().find(module + " " + name);
    if (it == whitelist().end())
      fail("pickle global '", module, ".", name,
           "' is not allowed: whet reads tensor state dicts only and runs nothing from the "
           "file (if it holds a whole model, as torch.save(model) writes, save "
           "model.state_dict() instead)");
    Object* o = make(Kind::global);
    o->text = module + "." + name;
    o->global = it->second.global;
    o->storage_dtype = it->second.dtype;
    stack_.push_back(object(o));
  }

  std::string key_of(const Value& k) {
    switch (k.kind) {
      case Kind::string:
        return "s" + k.o->text;
      case Kind::integer:
      case Kind::boolean:
        return "i" + std::to_string(k.i);  // True == 1 in Python
      case Kind::none:
        return "n";
      default:
        fail("dict key of type ", kind_name(k.kind), " is not supported");
    }
  }
  void set_item(Value& d, const Value& k, const Value& v) {
    if (d.kind != Kind::dict) fail("SETITEM(S) on a ", kind_name(d.kind), ", not a dict");
    Object& o = *d.o;
    auto [it, fresh] = o.index.emplace(key_of(k), o.entries.size());
    if (fresh)
      o.entries.emplace_back(k, v);
    else
      o.entries[it->second].second = v;
  }
  Value& list_top() {
    Value& l = top();
    if (l.kind != Kind::list) fail("APPEND(S) on a ", kind_name(l.kind), ", not a list");
    return l;
  }
  Value sequence(Kind k, std::vector<Value> items) {
    Object* o = make(k);
    o->items = std::move(items);
    return object(o);
  }
  Value new_dict(bool ordered) {
    Object* o = make(Kind::dict);
    o->ordered = ordered;
    return object(o);
  }

  void memo_put(uint64_t idx) { memo_[idx] = top(); }
  void memo_get(uint64_t idx) {
    auto it = memo_.find(idx);
    if (it == memo_.end()) fail("memo entry ", idx, " was never stored");
    stack_.push_back(it->second);
  }

  void step(uint8_t op);
  Value reduce(const Value& callable, const Value& args);
  Value persistent_load(const Value& pid);
  Value rebuild_tensor(const std::vector<Value>& a);

  const uint8_t* p_;
  size_t n_, pos_ = 0, op_pos_ = 0;
  const TensorBuilder& build_;
  const std::string& source_;
  std::vector<Value> stack_;
  std::vector<size_t> marks_;
  std::unordered_map<uint64_t, Value> memo_;
  Unpickled out_;
};

void Machine::step(uint8_t op) {
  switch (op) {
    case 0x80: {  // PROTO
      uint8_t v = *take(1);
      if (v < 2 || v > 5) fail("pickle protocol ", int(v), " is not supported (2 to 5 are)");
      break;
    }
    case 0x95:
      take(8);
      break;  // FRAME: a hint for buffered readers
    case '(':
      marks_.push_back(stack_.size());
      break;
    case '}':
      stack_.push_back(new_dict(false));
      break;
    case ']':
      stack_.push_back(sequence(Kind::list, {}));
      break;
    case ')':
      stack_.push_back(sequence(Kind::tuple, {}));
      break;
    case 'N':
      stack_.push_back(scalar(Kind::none, 0));
      break;
    case 0x88:
      stack_.push_back(scalar(Kind::boolean, 1));
      break;
    case 0x89:
      stack_.push_back(scalar(Kind::boolean, 0));
      break;
    case 'K':
      stack_.push_back(scalar(Kind::integer, int64_t(le(1))));
      break;
    case 'M':
      stack_.push_back(scalar(Kind::integer, int64_t(le(2))));
      break;
    case 'J':
      stack_.push_back(scalar(Kind::integer, int64_t(int32_t(uint32_t(le(4))))));
      break;
    case 0x8a: {  // LONG1: little-endian two's complement of n bytes
      size_t k = *take(1);
      if (k > 8) fail("integer of ", k, " bytes does not fit 64 bits");
      uint64_t v = k ? le(k) : 0;
      if (k > 0 && k < 8 && (v >> (8 * k - 1)) & 1) v |= ~uint64_t(0) << (8 * k);
      stack_.push_back(scalar(Kind::integer, int64_t(v)));
      break;
    }
    case 'G': {  // BINFLOAT: big-endian IEEE double
      const uint8_t* q = take(8);
      uint64_t bits = 0;
      for (int j = 0; j < 8; ++j) bits = (bits << 8) | q[j];
      Value v = scalar(Kind::floating, 0);
      std::memcpy(&v.f, &bits, 8);
      stack_.push_back(v);
      break;
    }
    case 'X':
      push_string(size_t(le(4)));
      break;
    case 0x8c:
      push_string(size_t(le(1)));
      break;
    case 0x8d:
      push_string(size_t(le(8)));
      break;
    case 't':
      stack_.push_back(sequence(Kind::tuple, pop_mark()));
      break;
    case 0x85:
    case 0x86:
    case 0x87: {  // TUPLE1..3
      size_t k = size_t(op - 0x84);
      std::vector<Value> items(k);
      for (size_t j = k; j-- > 0;) items[j] = pop();
      stack_.push_back(sequence(Kind::tuple, std::move(items)));
      break;
    }
    case 'l':
      stack_.push_back(sequence(Kind::list, pop_mark()));
      break;
    case 'd': {
      std::vector<Value> items = pop_mark();
      if (items.size() % 2) fail("DICT with an odd number of items");
      Value d = new_dict(false);
      for (size_t j = 0; j < items.size(); j += 2) set_item(d, items[j], items[j + 1]);
      stack_.push_back(d);
      break;
    }
    case 's': {
      Value v = pop(), k = pop();
      set_item(top(), k, v);
      break;
    }
    case 'u': {
      std::vector<Value> items = pop_mark();
      if (items.size() % 2) fail("SETITEMS with an odd number of items");
      Value& d = top();
      for (size_t j = 0; j < items.size(); j += 2) set_item(d, items[j], items[j + 1]);
      break;
    }
    case 'a': {
      Value v = pop();
      list_top().o->items.push_back(v);
      break;
    }
    case 'e': {
      std::vector<Value> items = pop_mark();
      auto& dst = list_top().o->items;
      dst.insert(dst.end(), items.begin(), items.end());
      break;
    }
    case 'q':
      memo_put(le(1));
      break;
    case 'r':
      memo_put(le(4));
      break;
    case 0x94:
      memo_put(memo_.size());
      break;
    case 'h':
      memo_get(le(1));
      break;
    case 'j':
      memo_get(le(4));
      break;
    case 'c': {
      std::string module = line();
      std::string name = line();
      push_global(module, name);
      break;
    }
    case 0x93: {  // STACK_GLOBAL
      Value name = pop(), module = pop();
      if (name.kind != Kind::string || module.kind != Kind::string)
        fail("STACK_GLOBAL needs two strings");
      push_global(module.o->text, name.o->text);
      break;
    }
    case 'R': {
      Value args = pop(), callable = pop();
      stack_.push_back(reduce(callable, args));
      break;
    }
    case 'Q':
      stack_.push_back(persistent_load(pop()));
      break;
    case 'b': {  // BUILD: OrderedDict's state (the _metadata attribute) is not needed
      Value state = pop();
      Value& target = top();
      if (target.kind != Kind::dict || (state.kind != Kind::dict && state.kind != Kind::none))
        fail("BUILD of a ", kind_name(target.kind), " from a ", kind_name(state.kind),
             " is not supported (only a dict's attributes are accepted, and ignored)");
      break;
    }
    default:
      fail("pickle opcode ", opcode_name(op), " (0x", "0123456789abcdef"[op >> 4],
           "0123456789abcdef"[op & 15],
           ") is not supported: whet reads the opcodes a tensor state dict needs");
  }
}

Value Machine::reduce(const Value& callable, const Value& args) {
  if (callable.kind != Kind::global) fail("REDUCE on a ", kind_name(callable.kind));
  if (args.kind != Kind::tuple) fail("REDUCE arguments are a ", kind_name(args.kind));
  const std::vector<Value>& a = args.o->items;
  const Object& g = *callable.o;
  switch (g.global) {
    case Global::ordered_dict:
      if (!a.empty()) fail("collections.OrderedDict called with arguments");
      return new_dict(true);
    case Global::rebuild_tensor_v2:
      return rebuild_tensor(a);
    case Global::rebuild_parameter:
      // (data, requires_grad, backward_hooks): a Parameter is its tensor here.
      if (a.size() != 3 || a[0].kind != Kind::tensor)
        fail("torch._utils._rebuild_parameter expects (tensor, requires_grad, hooks)");
      return a[0];
    case Global::storage_type:
      break;
  }
  fail("'", g.text, "' cannot be called");
}

Value Machine::persistent_load(const Value& pid) {
  const std::vector<Value>* t = pid.kind == Kind::tuple ? &pid.o->items : nullptr;
  if (!t || t->size() != 5 || (*t)[0].kind != Kind::string || (*t)[0].o->text != "storage")
    fail("persistent id is not ('storage', type, key, location, numel)");
  const Value &type = (*t)[1], &key = (*t)[2], &loc = (*t)[3], &numel = (*t)[4];
  if (type.kind != Kind::global || type.o->global != Global::storage_type)
    fail("persistent id names storage type ", describe(type), ", not a torch storage");
  if (key.kind != Kind::string || loc.kind != Kind::string || numel.kind != Kind::integer ||
      numel.i < 0)
    fail("persistent id has an ill-typed key, location or element count");
  Object* o = make(Kind::storage);
  o->storage = StorageRef{type.o->storage_dtype, type.o->text, key.o->text, loc.o->text, numel.i};
  return object(o);
}

Value Machine::rebuild_tensor(const std::vector<Value>& a) {
  // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
  if (a.size() != 6 && a.size() != 7)
    fail("torch._utils._rebuild_tensor_v2 expects 6 or 7 arguments, got ", a.size());
  if (a[0].kind != Kind::storage) fail("tensor storage is a ", kind_name(a[0].kind));
  if (a[1].kind != Kind::integer) fail("tensor storage offset is a ", kind_name(a[1].kind));
  auto ints = [&](const Value& v, const char* what) {
    if (v.kind != Kind::tuple) fail("tensor ", what, " is a ", kind_name(v.kind));
    std::vector<int64_t> out;
    for (const Value& x : v.o->items) {
      if (x.kind != Kind::integer) fail("tensor ", what, " holds a ", kind_name(x.kind));
      out.push_back(x.i);
    }
    return out;
  };
  std::vector<int64_t> size = ints(a[2], "size"), stride = ints(a[3], "stride");
  if (size.size() != stride.size())
    fail("tensor has ", size.size(), " sizes but ", stride.size(), " strides");
  if (a[5].kind != Kind::dict || !a[5].o->entries.empty())
    fail("tensor backward hooks are not an empty dict");
  if (a.size() == 7 && a[6].kind != Kind::none &&
      !(a[6].kind == Kind::dict && a[6].o->entries.empty()))
    fail("tensor metadata (", describe(a[6]), ") is not supported");
  Object* o = make(Kind::tensor);
  o->tensor = build_(a[0].o->storage, a[1].i, size, stride);
  return object(o);
}

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::none:
      return "None";
    case Kind::boolean:
      return "bool";
    case Kind::integer:
      return "int";
    case Kind::floating:
      return "float";
    case Kind::string:
      return "str";
    case Kind::global:
      return "global";
    case Kind::tuple:
      return "tuple";
    case Kind::list:
      return "list";
    case Kind::dict:
      return "dict";
    case Kind::storage:
      return "storage";
    case Kind::tensor:
      return "tensor";
  }
  return "?";
}

Unpickled unpickle(const uint8_t* data, size_t n, const TensorBuilder& build,
                   const std::string& source) {
  return Machine(data, n, build, source).run();
}

const Value* dict_get(const Value& dict, const std::string& key) {
  if (dict.kind != Kind::dict) return nullptr;
  auto it = dict.o->index.find("s" + key);
  return it == dict.o->index.end() ? nullptr : &dict.o->entries[it->second].second;
}

std::string describe(const Value& v) {
  switch (v.kind) {
    case Kind::string:
      return "str '" + v.o->text + "'";
    case Kind::global:
      return "'" + v.o->text + "'";
    case Kind::tuple:
    case Kind::list:
      return std::string(kind_name(v.kind)) + " of " + std::to_string(v.o->items.size());
    case Kind::dict:
      return "dict of " + std::to_string(v.o->entries.size());
    case Kind::tensor:
      return std::string("tensor ") + dtype_name(v.o->tensor.dtype()) + " " +
             shape_str(v.o->tensor.shape());
    default:
      return kind_name(v.kind);
  }
}

}  // namespace whet::io::pickle
