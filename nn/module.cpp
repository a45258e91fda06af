// Module bookkeeping: registration, depth-first traversal with dotted names, modes, device moves,
// and state_dict / load_state_dict with PyTorch's keys and layouts (see nn/module.h).
#include "nn/module.h"

#include <cstdio>
#include <set>
#include <sstream>

#include "autograd/inplace.h"
#include "autograd/layout.h"
#include "autograd/node.h"
#include "tensor/error.h"

namespace pg::nn {

static std::string join(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
}

static std::string shape_text(const Shape& shape) {
    std::ostringstream out;
    out << "(";
    for (size_t i = 0; i < shape.size(); i++) out << (i ? ", " : "") << shape[i];
    out << (shape.size() == 1 ? ",)" : ")");
    return out.str();
}

// The prefix p, if any, such that the file holds every name the module misses as p + name (a
// wrapper's "module.", a part's "model."): then the file is of another layout, not another model.
static std::string prefix_of_every_missing_name(const LoadReport& r) {
    if (r.missing.empty()) return "";
    const std::string& first = r.missing[0];
    std::string prefix;
    for (const std::string& u : r.unexpected)
        if (u.size() > first.size() && u.compare(u.size() - first.size(), first.size(), first) == 0)
            prefix = u.substr(0, u.size() - first.size());
    if (prefix.empty()) return "";
    std::set<std::string> in_file(r.unexpected.begin(), r.unexpected.end());
    for (const std::string& m : r.missing)
        if (!in_file.count(prefix + m)) return "";
    return prefix;
}

// Lists of hundreds of names (a whole network missing) are cut to their first lines.
static void list_names(std::ostringstream& out, const char* label,
                       const std::vector<std::string>& names) {
    const size_t shown = names.size() <= 12 ? names.size() : 8;
    for (size_t i = 0; i < shown; i++) out << "  " << label << names[i] << "\n";
    if (shown < names.size())
        out << "  " << label << "... and " << names.size() - shown << " more\n";
}

std::string LoadReport::to_string() const {
    std::ostringstream out;
    list_names(out, "missing in file:     ", missing);
    list_names(out, "unexpected in file:  ", unexpected);
    list_names(out, "shape mismatch:      ", mismatched);
    if (const std::string prefix = prefix_of_every_missing_name(*this); !prefix.empty())
        out << "  (the file holds every missing name with '" << prefix
            << "' in front: weights saved in another layout)\n";
    return out.str();
}

// ---- registration ----

static void check_name(const std::string& type, const std::string& name) {
    PG_CHECK(!name.empty() && name.find('.') == std::string::npos, type,
             ": a registered name must be non-empty and contain no '.', got '", name, "'");
}

void Module::register_parameter(const std::string& name, Tensor* slot, Layout layout) {
    check_name(type_name_, name);
    if (!slot->defined()) return;
    PG_CHECK(slot->dtype() == DType::f32 || slot->dtype() == DType::bf16, type_name_,
             ": parameter '", name, "' must be f32 or bf16, got ", dtype_name(slot->dtype()));
    slot->set_requires_grad(true);
    parameters_.push_back({name, slot, layout});
}

void Module::register_buffer(const std::string& name, Tensor* slot) {
    check_name(type_name_, name);
    PG_CHECK(slot->defined(), type_name_, ": buffer '", name, "' is undefined");
    buffers_.push_back({name, slot, Layout::same});
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> child) {
    check_name(type_name_, name);
    PG_CHECK(child != nullptr, type_name_, ": child '", name, "' is null");
    for (const auto& c : children_)
        PG_CHECK(c.first != name, type_name_, ": child '", name, "' registered twice");
    child->train(training_);
    children_.emplace_back(name, std::move(child));
}

// ---- traversal ----

void Module::collect(const std::string& prefix, bool parameters,
                     std::vector<NamedTensor>& out) const {
    for (const Slot& s : parameters ? parameters_ : buffers_)
        out.push_back({join(prefix, s.name), *s.tensor, s.layout});
    for (const auto& [name, child] : children_) child->collect(join(prefix, name), parameters, out);
}

std::vector<NamedTensor> Module::named_parameters() const {
    std::vector<NamedTensor> out;
    collect("", true, out);
    return out;
}

std::vector<NamedTensor> Module::named_buffers() const {
    std::vector<NamedTensor> out;
    collect("", false, out);
    return out;
}

std::vector<Tensor> Module::parameters() const {
    std::vector<Tensor> out;
    for (const NamedTensor& p : named_parameters()) out.push_back(p.tensor);
    return out;
}

std::vector<Tensor> Module::trainable_parameters() const {
    std::vector<Tensor> out;
    for (const NamedTensor& p : named_parameters())
        if (p.tensor.requires_grad()) out.push_back(p.tensor);
    return out;
}

int64_t Module::parameter_count() const {
    int64_t total = 0;
    for (const NamedTensor& p : named_parameters()) total += p.tensor.numel();
    return total;
}

// PyTorch's state_dict order: a module's own parameters, then its own buffers, then each child.
void Module::collect_slots(const std::string& prefix,
                           std::vector<std::pair<std::string, Slot>>& out,
                           bool with_buffers) const {
    for (const Slot& s : parameters_) out.emplace_back(join(prefix, s.name), s);
    if (with_buffers)
        for (const Slot& s : buffers_) out.emplace_back(join(prefix, s.name), s);
    for (const auto& [name, child] : children_)
        child->collect_slots(join(prefix, name), out, with_buffers);
}

// ---- modes and devices ----

void Module::train(bool on) {
    training_ = on;
    on_train(on);
    for (auto& c : children_) c.second->train(on);
}

void Module::set_generator(Generator* gen) {
    on_generator(gen);
    for (auto& c : children_) c.second->set_generator(gen);
}

void Module::to(Device device) {
    std::vector<std::pair<std::string, Slot>> slots;
    collect_slots("", slots, true);
    for (auto& [name, s] : slots) {
        if (s.tensor->device() == device) continue;
        bool requires_grad = s.tensor->requires_grad();
        *s.tensor = s.tensor->detach().to(device);
        if (requires_grad) s.tensor->set_requires_grad(true);
    }
}

Device Module::device() const {
    std::vector<std::pair<std::string, Slot>> slots;
    collect_slots("", slots, true);
    return slots.empty() ? Device::cpu() : slots.front().second.tensor->device();
}

void Module::zero_grad() {
    for (const NamedTensor& p : named_parameters()) p.tensor.set_grad(Tensor());
}

// ---- PyTorch interop ----

void Module::notify_loaded() {
    on_loaded();
    for (auto& c : children_) c.second->notify_loaded();
}

Tensor to_torch_layout(const Tensor& t, Layout layout) {
    if (layout == Layout::same) return t;
    PG_CHECK(t.dim() == 4, "to_torch_layout: a conv weight must be 4-d, got ",
             shape_text(t.shape()));
    return permute(t, {0, 3, 1, 2}); // (K, R, S, C) -> (K, C, R, S)
}

Tensor from_torch_layout(const Tensor& t, Layout layout) {
    if (layout == Layout::same) return t;
    PG_CHECK(t.dim() == 4, "from_torch_layout: a conv weight must be 4-d, got ",
             shape_text(t.shape()));
    return permute(t, {0, 2, 3, 1}); // (K, C, R, S) -> (K, R, S, C)
}

std::map<std::string, Tensor> Module::state_dict() const {
    NoGradGuard no_grad;
    std::vector<std::pair<std::string, Slot>> slots;
    collect_slots("", slots, true);
    std::map<std::string, Tensor> out;
    for (auto& [name, s] : slots)
        out[name] = to_torch_layout(s.tensor->detach().to(Device::cpu()), s.layout);
    return out;
}

static bool is_batch_counter(const std::string& key) {
    const std::string suffix = "num_batches_tracked";
    return key.size() >= suffix.size() &&
           key.compare(key.size() - suffix.size(), suffix.size(), suffix) == 0;
}

static Tensor convert_dtype(const Tensor& t, DType dtype) {
    return t.dtype() == dtype ? t : cast(t, dtype);
}

LoadReport Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
    NoGradGuard no_grad;
    std::vector<std::pair<std::string, Slot>> slots;
    collect_slots("", slots, true);
    LoadReport report;
    std::set<std::string> known;
    std::vector<std::pair<Slot, Tensor>> to_copy;
    for (auto& [name, s] : slots) {
        known.insert(name);
        auto it = state.find(name);
        if (it == state.end()) {
            // Like PyTorch's BatchNorm, files without the counter (older PyTorch, RIPU's frozen
            // BN) load: the counter keeps its value.
            if (!is_batch_counter(name)) report.missing.push_back(name);
            continue;
        }
        Shape expected = to_torch_layout(*s.tensor, s.layout).shape();
        if (it->second.shape() != expected) {
            report.mismatched.push_back(name + ": file " + shape_text(it->second.shape()) +
                                        " vs module " + shape_text(expected));
            continue;
        }
        to_copy.emplace_back(s, it->second);
    }
    for (const auto& kv : state)
        if (!known.count(kv.first)) report.unexpected.push_back(kv.first);
    if (strict && !report.clean()) {
        std::string lines = report.to_string();
        lines.pop_back(); // the error line ends the message
        PG_FAIL("load_state_dict(", type_name_, "): the weights do not match the model:\n", lines);
    }
    // Nothing is written before the strict check passed: a failed load leaves the module intact.
    for (auto& [s, value] : to_copy) {
        Tensor v = convert_dtype(from_torch_layout(value, s.layout), s.tensor->dtype());
        copy_(*s.tensor, v);
    }
    notify_loaded();
    if (!report.clean())
        std::fprintf(stderr, "load_state_dict(%s): partial load\n%s", type_name_.c_str(),
                     report.to_string().c_str());
    return report;
}

} // namespace pg::nn
