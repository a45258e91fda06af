// The pinned staging ring: wait for the slot's last copy, fill the slot, queue the copy, mark it.
#include "tensor/pinned_staging.h"

#include "tensor/backend.h"
#include "tensor/error.h"

namespace pg {

PinnedStaging::PinnedStaging(Device device, int slots) : device_(device) {
    PG_CHECK(slots >= 1, "PinnedStaging: needs at least 1 slot, got ", slots);
    PG_CHECK(device_available(device), "PinnedStaging: device ", device.name(),
             " is not available (no CUDA backend registered, or no such GPU)");
    slots_.resize(size_t(slots));
}

size_t PinnedStaging::slot_bytes(int slot) const {
    PG_CHECK(slot >= 0 && slot < slots(), "PinnedStaging::slot_bytes: slot ", slot,
             " out of range [0, ", slots(), ")");
    const std::shared_ptr<Storage>& s = slots_[size_t(slot)];
    return s ? s->nbytes() : 0;
}

Tensor PinnedStaging::upload(const Tensor& cpu_batch) {
    PG_CHECK(cpu_batch.defined(), "PinnedStaging::upload: undefined batch");
    PG_CHECK(cpu_batch.is_cpu(),
             "PinnedStaging::upload: the batch must be a CPU tensor, got one on ",
             cpu_batch.device().name(), " of shape ", shape_str(cpu_batch.shape()));
    Tensor out = Tensor::empty(cpu_batch.shape(), cpu_batch.dtype(), device_);
    const size_t nbytes = cpu_batch.nbytes();
    if (nbytes == 0) return out; // nothing to stage; the ring does not move
    std::shared_ptr<Storage>& slot = slots_[size_t(next_)];
    next_ = (next_ + 1) % slots();

    // 1. The copy that last read this slot must be done before the host overwrites it. A slot too
    //    small for this batch is replaced (its destructor waits for that copy the same way).
    if (slot) slot->wait_copies();
    if (!slot || slot->nbytes() < nbytes) {
        slot.reset();
        slot = Storage::pinned(nbytes, device_);
    }
    // 2. Host -> slot: a plain memcpy (the batch itself is pageable memory).
    backend_for(Device::cpu()).copy(slot->data(), cpu_batch.raw(), nbytes);
    // 3. Slot -> device: asynchronous from pinned memory; the event marks when the slot is free.
    backend_for(device_).copy_from_host(out.raw(), slot->data(), nbytes);
    slot->record_copy();
    return out;
}

} // namespace pg
