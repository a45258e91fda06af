// Tensor creation, host transfers, device moves, aliases and printing.
#include "tensor/tensor.h"

#include <cstring>
#include <iomanip>

#include "tensor/backend.h"
#include "tensor/error.h"

namespace pg {

// ---- creation ----

Tensor Tensor::empty(const Shape& shape, DType dtype, Device device) {
    for (int64_t d : shape)
        PG_CHECK(d >= 0, "Tensor::empty: negative dimension in shape ", shape_str(shape));
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = shape;
    impl->dtype = dtype;
    impl->storage = std::make_shared<Storage>(size_t(pg::numel(shape)) * dtype_size(dtype), device);
    return Tensor(std::move(impl));
}

Tensor Tensor::empty_pinned(const Shape& shape, DType dtype, Device target) {
    for (int64_t d : shape)
        PG_CHECK(d >= 0, "Tensor::empty_pinned: negative dimension in shape ", shape_str(shape));
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = shape;
    impl->dtype = dtype;
    impl->storage = Storage::pinned(size_t(pg::numel(shape)) * dtype_size(dtype), target);
    return Tensor(std::move(impl));
}

Tensor Tensor::full(const Shape& shape, double value, DType dtype, Device device) {
    Tensor t = empty(shape, dtype, device);
    backend_for(device).fill(t.raw(), dtype, t.numel(), value);
    return t;
}

Tensor Tensor::zeros(const Shape& shape, DType dtype, Device device) {
    return full(shape, 0.0, dtype, device);
}

Tensor Tensor::ones(const Shape& shape, DType dtype, Device device) {
    return full(shape, 1.0, dtype, device);
}

Tensor Tensor::scalar(float value, Device device) { return full({}, value, DType::f32, device); }

static Tensor from_host(const void* values, size_t count, const Shape& shape, DType dtype,
                        Device device) {
    PG_CHECK(int64_t(count) == pg::numel(shape), "Tensor::from_vector: ", count,
             " values do not fill shape ", shape_str(shape), " (", pg::numel(shape), " elements)");
    Tensor t = Tensor::empty(shape, dtype, device);
    backend_for(device).copy_from_host(t.raw(), values, t.nbytes());
    return t;
}

Tensor Tensor::from_vector(const std::vector<float>& values, const Shape& shape, Device device) {
    return from_host(values.data(), values.size(), shape, DType::f32, device);
}

Tensor Tensor::from_vector(const std::vector<int32_t>& values, const Shape& shape, Device device) {
    return from_host(values.data(), values.size(), shape, DType::i32, device);
}

Tensor Tensor::from_vector(const std::vector<uint8_t>& values, const Shape& shape, Device device) {
    return from_host(values.data(), values.size(), shape, DType::u8, device);
}

Tensor Tensor::uniform(const Shape& shape, Generator& gen, float low, float high, Device device) {
    Tensor t = empty(shape, DType::f32, device);
    uint64_t n = uint64_t(t.numel());
    uint64_t offset = gen.reserve((n + 3) / 4); // 4 uniforms per Philox block
    backend_for(device).fill_uniform(t.f32(), t.numel(), gen.seed(), offset, low, high);
    return t;
}

Tensor Tensor::normal(const Shape& shape, Generator& gen, float mean, float std, Device device) {
    Tensor t = empty(shape, DType::f32, device);
    uint64_t n = uint64_t(t.numel());
    uint64_t offset = gen.reserve((n + 1) / 2); // 2 normals per Philox block
    backend_for(device).fill_normal(t.f32(), t.numel(), gen.seed(), offset, mean, std);
    return t;
}

// ---- properties ----

TensorImpl& Tensor::checked_impl() const {
    PG_CHECK(impl_ != nullptr, "use of an undefined tensor");
    return *impl_;
}

const Shape& Tensor::shape() const { return checked_impl().shape; }
int64_t Tensor::numel() const { return pg::numel(shape()); }
DType Tensor::dtype() const { return checked_impl().dtype; }
Device Tensor::device() const { return checked_impl().storage->device(); }

int64_t Tensor::size(int64_t axis) const { return shape()[normalize_axis("size", axis, dim())]; }

bool Tensor::same_storage(const Tensor& other) const {
    return defined() && other.defined() && impl_->storage == other.impl_->storage;
}

bool Tensor::is_pinned() const { return checked_impl().storage->is_pinned(); }

static void* typed_data(const Tensor& t, DType want) {
    PG_CHECK(t.dtype() == want, "tensor data: asked for ", dtype_name(want), " data of a ",
             dtype_name(t.dtype()), " tensor ", shape_str(t.shape()));
    return t.raw();
}

float* Tensor::f32() const { return static_cast<float*>(typed_data(*this, DType::f32)); }
int32_t* Tensor::i32() const { return static_cast<int32_t*>(typed_data(*this, DType::i32)); }
uint8_t* Tensor::u8() const { return static_cast<uint8_t*>(typed_data(*this, DType::u8)); }
uint16_t* Tensor::bf16() const { return static_cast<uint16_t*>(typed_data(*this, DType::bf16)); }
void* Tensor::raw() const { return checked_impl().storage->data(); }

// ---- host transfers ----

std::vector<float> Tensor::to_f32_vector() const {
    Tensor source = dtype() == DType::f32 ? *this : Tensor::empty(shape(), DType::f32, device());
    if (dtype() != DType::f32)
        backend_for(device()).cast(source.raw(), DType::f32, raw(), dtype(), numel());
    std::vector<float> out(static_cast<size_t>(numel()));
    backend_for(device()).copy_to_host(out.data(), source.raw(), source.nbytes());
    return out;
}

std::vector<int32_t> Tensor::to_i32_vector() const {
    PG_CHECK(dtype() == DType::i32, "to_i32_vector: tensor is ", dtype_name(dtype()));
    std::vector<int32_t> out(static_cast<size_t>(numel()));
    backend_for(device()).copy_to_host(out.data(), raw(), nbytes());
    return out;
}

std::vector<uint8_t> Tensor::to_u8_vector() const {
    PG_CHECK(dtype() == DType::u8, "to_u8_vector: tensor is ", dtype_name(dtype()));
    std::vector<uint8_t> out(static_cast<size_t>(numel()));
    backend_for(device()).copy_to_host(out.data(), raw(), nbytes());
    return out;
}

float Tensor::item() const {
    PG_CHECK(numel() == 1, "item: tensor of shape ", shape_str(shape()), " has ", numel(),
             " elements, expected exactly 1");
    return to_f32_vector()[0];
}

// ---- copies and aliases ----

Tensor Tensor::to(Device target) const {
    if (device() == target) return *this;
    Tensor out = empty(shape(), dtype(), target);
    if (target.is_cpu()) {
        backend_for(device()).copy_to_host(out.raw(), raw(), nbytes());
    } else if (device().is_cpu()) {
        backend_for(target).copy_from_host(out.raw(), raw(), nbytes());
        // From pinned memory the copy runs on after this returns: mark it, so that writes
        // (in-place ops, wait_async_copies) and the free of this storage wait for it.
        checked_impl().storage->record_copy();
    } else { // between two GPUs: stage through the host
        std::vector<uint8_t> host(nbytes());
        backend_for(device()).copy_to_host(host.data(), raw(), nbytes());
        backend_for(target).copy_from_host(out.raw(), host.data(), nbytes());
    }
    return out;
}

Tensor Tensor::clone() const {
    Tensor out = empty(shape(), dtype(), device());
    backend_for(device()).copy(out.raw(), raw(), nbytes());
    return out;
}

Tensor Tensor::alias_with_shape(const Shape& new_shape) const {
    PG_CHECK(pg::numel(new_shape) == numel(), "reshape: cannot view shape ", shape_str(shape()),
             " (", numel(), " elements) as ", shape_str(new_shape), " (", pg::numel(new_shape),
             " elements)");
    auto impl = std::make_shared<TensorImpl>();
    impl->shape = new_shape;
    impl->dtype = dtype();
    impl->storage = impl_->storage;
    return Tensor(std::move(impl));
}

Tensor Tensor::detach() const { return alias_with_shape(shape()); }

void Tensor::bump_version() const { checked_impl().storage->bump_version(); }
uint64_t Tensor::version() const { return checked_impl().storage->version(); }
void Tensor::wait_async_copies() const { checked_impl().storage->wait_copies(); }

// ---- autograd bookkeeping ----

bool Tensor::requires_grad() const { return defined() && impl_->requires_grad; }

Tensor& Tensor::set_requires_grad(bool value) {
    PG_CHECK(is_leaf(), "set_requires_grad: only leaf tensors (not results of ops) can change it");
    PG_CHECK(!value || dtype() == DType::f32 || dtype() == DType::bf16, "set_requires_grad: a ",
             dtype_name(dtype()), " tensor cannot require gradients");
    checked_impl().requires_grad = value;
    return *this;
}

bool Tensor::is_leaf() const { return checked_impl().grad_fn == nullptr; }

bool Tensor::is_sole_owner() const {
    return impl_ && impl_.use_count() == 1 && (!impl_->storage || impl_->storage.use_count() == 1);
}
Tensor Tensor::grad() const { return checked_impl().grad; }
void Tensor::set_grad(const Tensor& grad) const { checked_impl().grad = grad; }
const std::shared_ptr<Node>& Tensor::grad_fn() const { return checked_impl().grad_fn; }
uint32_t Tensor::output_nr() const { return checked_impl().output_nr; }

void Tensor::set_history(std::shared_ptr<Node> node, uint32_t output_nr) const {
    TensorImpl& impl = checked_impl();
    impl.grad_fn = std::move(node);
    impl.output_nr = output_nr;
    impl.requires_grad = true;
}

std::shared_ptr<Node> Tensor::grad_accumulator() const {
    return checked_impl().grad_accumulator.lock();
}

void Tensor::set_grad_accumulator(const std::shared_ptr<Node>& node) const {
    checked_impl().grad_accumulator = node;
}

// ---- printing ----

std::ostream& operator<<(std::ostream& out, const Tensor& t) {
    if (!t.defined()) return out << "Tensor(undefined)";
    out << "Tensor(shape=" << shape_str(t.shape()) << ", dtype=" << t.dtype()
        << ", device=" << t.device();
    if (t.is_pinned()) out << ", pinned";
    if (t.requires_grad()) out << ", requires_grad";
    out << ") [";
    const int64_t shown = 8;
    std::vector<float> values = t.to_f32_vector();
    for (int64_t i = 0; i < std::min<int64_t>(shown, t.numel()); i++)
        out << (i ? ", " : "") << std::setprecision(5) << values[size_t(i)];
    if (t.numel() > shown) out << ", ... (" << t.numel() << " values)";
    return out << "]";
}

} // namespace pg
