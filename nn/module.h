// Module: a tree of named parameters, buffers and child modules, with libtorch-like names.
// named_parameters() / state_dict() produce exactly PyTorch's state_dict keys ("layer1.0.conv1.weight"),
// so weights move between the two worlds with no renaming table. state_dict() and load_state_dict()
// speak PyTorch's layouts (conv weights (O, I, kH, kW)); inside, conv weights are (K, R, S, C).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "tensor/generator.h"
#include "tensor/tensor.h"

namespace pg::nn {

// How a tensor is laid out inside the engine versus on disk / in PyTorch.
enum class Layout {
    same,      // identical (biases, BN vectors, linear weights (out, in))
    conv_krsc, // engine (K, R, S, C/groups)  <->  PyTorch (K, C/groups, R, S)
};

// A registered tensor: a pointer to the member that holds it (so to(device) and loading can
// replace or fill it in place) and its layout.
struct Slot {
    std::string name;
    Tensor* tensor;
    Layout layout;
};

// A full dotted name and the tensor it refers to.
struct NamedTensor {
    std::string name;
    Tensor tensor;
    Layout layout;
};

// What a non-strict load found. A clean report has all three lists empty.
struct LoadReport {
    std::vector<std::string> missing;    // in the module, not in the file
    std::vector<std::string> unexpected; // in the file, not in the module
    std::vector<std::string> mismatched; // "name: file (3, 64) vs module (64, 3)"
    bool clean() const { return missing.empty() && unexpected.empty() && mismatched.empty(); }
    std::string to_string() const; // one line per problem, "" when clean
};

class Module {
  public:
    explicit Module(std::string type_name) : type_name_(std::move(type_name)) {}
    virtual ~Module() = default;
    // Slots point into the object: modules are neither copied nor moved.
    Module(const Module&) = delete;
    Module& operator=(const Module&) = delete;

    const std::string& type_name() const { return type_name_; }

    // ---- registration (called from constructors) ----
    // A parameter: *slot is marked requires_grad. An undefined *slot (a bias that is off)
    // is not registered, so its key is absent, as in PyTorch.
    void register_parameter(const std::string& name, Tensor* slot, Layout layout = Layout::same);
    // A buffer (running statistics): saved and loaded, never trained.
    void register_buffer(const std::string& name, Tensor* slot);
    // A child; returns it so constructors can write `conv1_ = register_module("conv1", ...)`.
    template <class M>
    std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> child) {
        add_child(name, child);
        return child;
    }

    // ---- traversal (depth first, registration order: PyTorch's order) ----
    std::vector<NamedTensor> named_parameters() const;
    std::vector<NamedTensor> named_buffers() const;
    std::vector<Tensor> parameters() const;
    // Only the parameters that require grad (what an optimizer should see).
    std::vector<Tensor> trainable_parameters() const;
    const std::vector<std::pair<std::string, std::shared_ptr<Module>>>& children() const {
        return children_;
    }
    int64_t parameter_count() const; // number of scalars in all parameters

    // ---- modes and devices ----
    void train(bool on = true); // recursive
    void eval() { train(false); }
    bool is_training() const { return training_; }
    // Moves every parameter and buffer (requires_grad kept). Make optimizers after this.
    void to(Device device);
    Device device() const; // of the first parameter or buffer (cpu when there is none)
    void zero_grad();      // every parameter's grad becomes undefined (PyTorch's set_to_none)
    // The generator that dropout layers draw from; recursive. Training with dropout needs one.
    void set_generator(Generator* gen);

    // ---- PyTorch interop ----
    // Parameters then buffers of each module, PyTorch layouts, on the CPU.
    std::map<std::string, Tensor> state_dict() const;
    // Copies values in place (devices and requires_grad are kept). Shapes are PyTorch's; dtypes are
    // converted (bf16 / f32; integer counters). strict: any problem throws with the report;
    // otherwise matching keys are loaded and the report is returned (and printed when not clean).
    LoadReport load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);

  protected:
    // Hooks for layers that react to mode / generator changes (BatchNorm2d, Dropout).
    virtual void on_train(bool on) {}
    virtual void on_generator(Generator* gen) {}
    virtual void on_loaded() {} // after load_state_dict wrote this module's tensors

  private:
    void add_child(const std::string& name, std::shared_ptr<Module> child);
    void notify_loaded();
    void collect(const std::string& prefix, bool parameters, std::vector<NamedTensor>& out) const;
    void collect_slots(const std::string& prefix, std::vector<std::pair<std::string, Slot>>& out,
                       bool with_buffers) const;

    std::string type_name_;
    bool training_ = true;
    std::vector<Slot> parameters_;
    std::vector<Slot> buffers_;
    std::vector<std::pair<std::string, std::shared_ptr<Module>>> children_;
};

// Puts a module in eval mode for a scope (evaluation, FLOP counting, drawing predictions) and
// gives it back the train/eval mode it had, however the scope ends.
class EvalModeGuard {
  public:
    explicit EvalModeGuard(Module& module) : module_(module), was_training_(module.is_training()) {
        module_.eval();
    }
    ~EvalModeGuard() { module_.train(was_training_); }
    EvalModeGuard(const EvalModeGuard&) = delete;
    EvalModeGuard& operator=(const EvalModeGuard&) = delete;

  private:
    Module& module_;
    bool was_training_;
};

// A module with one input and one output: what Sequential chains.
class Layer : public Module {
  public:
    using Module::Module;
    virtual Tensor forward(const Tensor& x) = 0;
};

// PyTorch <-> engine layout conversion of one tensor.
Tensor to_torch_layout(const Tensor& t, Layout layout);
Tensor from_torch_layout(const Tensor& t, Layout layout);

} // namespace pg::nn
