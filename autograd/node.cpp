// SavedTensor, grad mode, record() and the AccumulateGrad node at the leaves.
#include "autograd/node.h"

#include <atomic>

#include "tensor/error.h"

namespace pg {

// ---- saved tensors ----

SavedTensor::SavedTensor(const Tensor& t) {
    if (!t.defined()) return;
    tensor_ = t.detach();
    version_ = t.version();
}

const Tensor& SavedTensor::get() const {
    PG_CHECK(tensor_.defined(), "autograd: a saved tensor was already freed; call backward with "
                                "retain_graph=true to backward through a graph twice");
    PG_CHECK(tensor_.version() == version_, "autograd: a tensor of shape ",
             shape_str(tensor_.shape()),
             " saved for backward was modified in place (saved at version ", version_,
             ", now version ", tensor_.version(), "); clone it before writing to it");
    return tensor_;
}

// ---- grad mode ----

static thread_local bool grad_enabled = true;

bool grad_mode_enabled() { return grad_enabled; }
NoGradGuard::NoGradGuard() : previous_(grad_enabled) { grad_enabled = false; }
NoGradGuard::~NoGradGuard() { grad_enabled = previous_; }

bool any_requires_grad(const std::vector<Tensor>& inputs) {
    if (!grad_enabled) return false;
    for (const Tensor& t : inputs)
        if (t.defined() && t.requires_grad()) return true;
    return false;
}

// ---- nodes ----

static std::atomic<uint64_t> next_sequence_nr{0};

// The node record() builds: the op's backward lambda and what it captured.
class FunctionNode final : public Node {
  public:
    FunctionNode(const char* name, BackwardFn fn) : name_(name), fn_(std::move(fn)) {}
    const char* name() const override { return name_; }
    std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) override {
        PG_CHECK(fn_ != nullptr, "autograd: ", name_,
                 " was already run and its saved tensors freed; ",
                 "pass retain_graph=true to the first backward to backward through a graph twice");
        std::vector<bool> needs(next_edges.size());
        for (size_t i = 0; i < next_edges.size(); i++) needs[i] = next_edges[i].node != nullptr;
        return fn_(grad_outputs, needs);
    }
    // Destroying the lambda destroys its captured SavedTensors.
    void release_saved() override { fn_ = nullptr; }

  private:
    const char* name_;
    BackwardFn fn_;
};

// A leaf's sink: adds the incoming gradient into the leaf's .grad.
class AccumulateGrad final : public Node {
  public:
    explicit AccumulateGrad(const Tensor& leaf) : leaf_(leaf) {}
    const char* name() const override { return "AccumulateGrad"; }
    std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) override;
    const Tensor* leaf() const override { return &leaf_; }

  private:
    Tensor leaf_;
};

Tensor accumulate(const Tensor& existing, const Tensor& incoming); // autograd/engine.cpp

std::vector<Tensor> AccumulateGrad::apply(const std::vector<Tensor>& grad_outputs) {
    const Tensor& g = grad_outputs[0];
    Tensor existing = leaf_.grad();
    // The first gradient becomes .grad itself when the engine holds the only handle to it (it is
    // dropped right after this node), as PyTorch steals it; otherwise it is copied, so that .grad
    // never aliases a tensor of the graph (a saved tensor, a view, the caller's backward seed).
    if (existing.defined())
        leaf_.set_grad(accumulate(existing, g));
    else
        leaf_.set_grad(g.is_sole_owner() ? g : g.clone());
    return {};
}

Edge gradient_edge(const Tensor& t) {
    if (!t.defined() || !t.requires_grad()) return Edge{};
    if (t.grad_fn()) return Edge{t.grad_fn(), t.output_nr()};
    std::shared_ptr<Node> acc = t.grad_accumulator();
    if (!acc) {
        acc = std::make_shared<AccumulateGrad>(t);
        acc->outputs.push_back(OutputInfo{t.shape(), t.dtype(), t.device()});
        acc->sequence_nr = next_sequence_nr++;
        t.set_grad_accumulator(acc);
    }
    return Edge{acc, 0};
}

void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            BackwardFn backward) {
    if (!any_requires_grad(inputs)) return;
    auto node = std::make_shared<FunctionNode>(name, std::move(backward));
    node->sequence_nr = next_sequence_nr++;
    for (const Tensor& t : inputs) node->next_edges.push_back(gradient_edge(t));
    for (uint32_t i = 0; i < outputs.size(); i++) {
        const Tensor& out = outputs[i];
        node->outputs.push_back(OutputInfo{out.shape(), out.dtype(), out.device()});
        // Integer outputs (indices, masks) carry no gradient and keep no history.
        if (out.dtype() == DType::f32 || out.dtype() == DType::bf16) out.set_history(node, i);
    }
}

} // namespace pg
