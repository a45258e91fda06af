// The backward graph: Node (one recorded op), Edge (where a gradient flows), SavedTensor
// (a tensor kept for backward, with the version check that catches in-place misuse), grad mode,
// and record(): how an op attaches its backward, written as a lambda right next to its forward.
// The engine that walks this graph is autograd/engine.h.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "tensor/tensor.h"

namespace pg {

struct Edge {
    std::shared_ptr<Node> node; // null: this input needs no gradient
    uint32_t input_nr = 0;      // which output of `node` the gradient belongs to
};

// Shape, dtype and device of an op output, so the engine can supply zeros for outputs that
// received no gradient (e.g. one half of a split).
struct OutputInfo {
    Shape shape;
    DType dtype;
    Device device;
};

class Node {
  public:
    virtual ~Node() = default;
    virtual const char* name() const = 0;
    // Gradients w.r.t. this node's outputs in, gradients w.r.t. its inputs (one per edge) out;
    // an undefined tensor means "no gradient for that input".
    virtual std::vector<Tensor> apply(const std::vector<Tensor>& grad_outputs) = 0;
    // Frees the tensors saved for backward (the engine calls it once the node has run).
    virtual void release_saved() {}
    // The leaf whose .grad this node writes (AccumulateGrad), else null.
    virtual const Tensor* leaf() const { return nullptr; }

    std::vector<Edge> next_edges;
    std::vector<OutputInfo> outputs;
    uint64_t sequence_nr = 0; // creation order; the engine runs later nodes first
};

// A tensor saved for backward. It keeps a detached alias (so saving an op's own output makes no
// reference cycle) plus the storage version at save time; get() fails if it changed since.
class SavedTensor {
  public:
    SavedTensor() = default;
    explicit SavedTensor(const Tensor& t);
    const Tensor& get() const; // throws if the tensor was modified in place after saving
    bool defined() const { return tensor_.defined(); }
    void reset() { tensor_ = Tensor(); }

  private:
    Tensor tensor_;
    uint64_t version_ = 0;
};

// Grad mode: when disabled (inside a NoGradGuard, or while backward runs) ops record nothing.
bool grad_mode_enabled();
class NoGradGuard {
  public:
    NoGradGuard();
    ~NoGradGuard();
    NoGradGuard(const NoGradGuard&) = delete;
    NoGradGuard& operator=(const NoGradGuard&) = delete;

  private:
    bool previous_;
};

// True when grad mode is on and any input requires a gradient: the op must record.
bool any_requires_grad(const std::vector<Tensor>& inputs);

// The backward of one recorded op: gradients of the outputs in, gradients of the inputs out.
// `needs_input_grad[i]` says whether input i wants a gradient (skip work when it does not).
using BackwardFn = std::function<std::vector<Tensor>(const std::vector<Tensor>& grad_outputs,
                                                     const std::vector<bool>& needs_input_grad)>;

// Records `outputs = op(inputs)` when any_requires_grad(inputs): builds a node whose backward is
// `backward`, links it to the inputs' nodes and makes it the grad_fn of every output.
// Tensors the backward needs must be captured as SavedTensor so in-place misuse is caught and
// release_saved() can free them.
void record(const char* name, const std::vector<Tensor>& inputs, const std::vector<Tensor>& outputs,
            BackwardFn backward);

// Edge towards the node that produces `t`'s gradient: its grad_fn, or for a leaf requiring grad its
// AccumulateGrad node (created on first use).
Edge gradient_edge(const Tensor& t);

} // namespace pg
