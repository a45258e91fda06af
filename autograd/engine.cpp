// The backward engine: dependency counting, then nodes run latest-created first once every
// gradient flowing into them has arrived (a deterministic order for a given graph).
#include "autograd/engine.h"

#include <queue>
#include <unordered_map>

#include "autograd/node.h"
#include "tensor/backend.h"
#include "tensor/error.h"

namespace pg {

// existing + incoming, same shape; used wherever two gradients meet. When nothing else holds
// existing's memory the sum goes into it (the same additions, one new tensor less: ResNet's skip
// connections meet the branch gradient at every block). CPU only, as autograd/op_util.h's
// gradient_like: no CUDA kernel is checked for reading and writing one buffer. A leaf's .grad is
// never summed in place: AccumulateGrad's own handle to it makes it shared here.
Tensor accumulate(const Tensor& existing, const Tensor& incoming) {
    PG_CHECK(existing.shape() == incoming.shape(), "autograd: cannot sum gradients of shapes ",
             shape_str(existing.shape()), " and ", shape_str(incoming.shape()));
    Tensor out = existing.is_cpu() && existing.is_sole_owner()
                     ? existing
                     : Tensor::empty(existing.shape(), DType::f32, existing.device());
    BroadcastGeometry g = broadcast_geometry(existing.shape(), incoming.shape(), existing.shape());
    backend_for(existing.device())
        .binary_forward(BinaryOp::add, out.f32(), existing.f32(), incoming.f32(), g);
    return out;
}

// Number of gradient edges pointing at each node reachable from `root`.
static std::unordered_map<Node*, int> count_dependencies(Node* root) {
    std::unordered_map<Node*, int> deps;
    std::vector<Node*> stack{root};
    deps[root] = 0;
    while (!stack.empty()) {
        Node* node = stack.back();
        stack.pop_back();
        for (const Edge& e : node->next_edges) {
            if (!e.node) continue;
            auto [it, first_visit] = deps.emplace(e.node.get(), 0);
            it->second++;
            if (first_visit) stack.push_back(e.node.get());
        }
    }
    return deps;
}

static Tensor make_seed(const Tensor& root, const Tensor& grad) {
    if (!grad.defined()) {
        PG_CHECK(root.numel() == 1, "backward: the root has shape ", shape_str(root.shape()),
                 "; a gradient must be given for a tensor that is not a single element");
        return Tensor::ones(root.shape(), DType::f32, root.device());
    }
    PG_CHECK(grad.shape() == root.shape() && grad.device() == root.device(), "backward: gradient ",
             shape_str(grad.shape()), " on ", grad.device(), " does not match the root ",
             shape_str(root.shape()), " on ", root.device());
    return grad;
}

// Runs one node on the gradients gathered for it; undefined slots become zeros, and a node that
// received no gradient at all is skipped (it reports no gradient for any input).
static std::vector<Tensor> run_node(Node& node, std::vector<Tensor>& grads, bool retain_graph) {
    bool any = false;
    for (const Tensor& g : grads) any = any || g.defined();
    if (!any) return std::vector<Tensor>(node.next_edges.size());
    for (size_t i = 0; i < grads.size(); i++) {
        const OutputInfo& info = node.outputs[i];
        if (!grads[i].defined()) grads[i] = Tensor::zeros(info.shape, DType::f32, info.device);
    }
    std::vector<Tensor> input_grads = node.apply(grads);
    if (!retain_graph) node.release_saved();
    PG_CHECK(input_grads.size() == node.next_edges.size() || node.next_edges.empty(),
             "autograd: ", node.name(), " returned ", input_grads.size(), " gradients for ",
             node.next_edges.size(), " inputs");
    return input_grads;
}

static thread_local BackwardObserver* next_observer = nullptr;

void observe_next_backward(BackwardObserver* observer) { next_observer = observer; }

void backward(const Tensor& root, const Tensor& grad, bool retain_graph) {
    BackwardObserver* observer = next_observer;
    next_observer = nullptr;
    PG_CHECK(root.defined() && root.requires_grad(),
             "backward: the tensor does not require grad (no input of the ops that made it "
             "requires grad, or it was computed under no_grad)");
    Tensor seed = make_seed(root, grad);
    Edge root_edge = gradient_edge(root);
    std::unordered_map<Node*, int> deps = count_dependencies(root_edge.node.get());
    if (observer)
        observer->begin([&deps](const Tensor& leaf) {
            std::shared_ptr<Node> acc = leaf.grad_accumulator();
            return acc && deps.count(acc.get()) > 0;
        });
    std::unordered_map<Node*, std::vector<Tensor>> buffers;
    auto buffer_of = [&](Node* node) -> std::vector<Tensor>& {
        auto& b = buffers[node];
        if (b.empty()) b.resize(node->outputs.size());
        return b;
    };
    buffer_of(root_edge.node.get())[root_edge.input_nr] = seed;

    auto later_first = [](const std::shared_ptr<Node>& a, const std::shared_ptr<Node>& b) {
        return a->sequence_nr < b->sequence_nr;
    };
    std::priority_queue<std::shared_ptr<Node>, std::vector<std::shared_ptr<Node>>,
                        decltype(later_first)>
        ready(later_first);
    ready.push(root_edge.node);

    NoGradGuard no_grad; // backward itself records nothing
    while (!ready.empty()) {
        std::shared_ptr<Node> node = ready.top();
        ready.pop();
        std::vector<Tensor> grads = std::move(buffer_of(node.get()));
        buffers.erase(node.get());
        std::vector<Tensor> input_grads = run_node(*node, grads, retain_graph);
        if (observer && node->leaf()) observer->leaf_done(*node->leaf());
        for (size_t i = 0; i < node->next_edges.size(); i++) {
            const Edge& e = node->next_edges[i];
            if (!e.node) continue;
            const Tensor& g = input_grads[i];
            if (g.defined()) {
                const OutputInfo& want = e.node->outputs[e.input_nr];
                PG_CHECK(g.shape() == want.shape, "autograd: ", node->name(),
                         " produced a gradient of shape ", shape_str(g.shape()),
                         " for an input of shape ", shape_str(want.shape));
                Tensor& slot = buffer_of(e.node.get())[e.input_nr];
                slot = slot.defined() ? accumulate(slot, g) : g;
            }
            if (--deps[e.node.get()] == 0) ready.push(e.node);
        }
    }
}

} // namespace pg
