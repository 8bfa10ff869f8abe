// Observations stored once (derived.h has the design). Over 300 lines because the bookkeeping
// of who reads which frame (pushes, overwrites, evictions, clear) and the one read path that
// trusts it are one invariant, kept in one file.
#include "derived.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "error.h"
#include "storage.h"

namespace replaykit {

Schema stored_schema(const DerivedOptions& o) {
  const Schema& u = o.user;
  if (o.obs >= u.size() || o.next >= u.size() || o.obs == o.next)
    fail(ErrorKind::Shape, "a next field needs an observation field and a distinct next field");
  const Field& obs = u[o.obs];
  const Field& next = u[o.next];
  if (obs.dtype != next.dtype || obs.shape != next.shape)
    fail(ErrorKind::Shape, "field '" + next.name + "' is rebuilt from '" + obs.name + "': it needs the same dtype and shape");
  if (o.frames < 1 || o.frames > kMaxFrames)
    fail(ErrorKind::Range, "frameStack.frames must be an integer in [1, " + std::to_string(kMaxFrames) + "], got " +
                               std::to_string(o.frames));
  if (o.frames > 1 && (obs.shape.empty() || obs.shape[0] != o.frames))
    fail(ErrorKind::Shape, "frameStack: field '" + obs.name + "' must have a leading dimension of " + std::to_string(o.frames) +
                               " (the stack)");
  std::vector<Field> fields;
  for (size_t f = 0; f < u.size(); ++f) {
    if (f == o.next) continue;
    if (f == o.obs && o.frames > 1)
      fields.push_back(make_field(obs.name, obs.dtype, std::vector<uint64_t>(obs.shape.begin() + 1, obs.shape.end())));
    else
      fields.push_back(u[f]);
  }
  return Schema(std::move(fields));
}

Derived::Derived(DerivedOptions o, const EpisodeIndex& index, const Storage& storage)
    : o_(std::move(o)), index_(index), storage_(storage) {
  const Schema stored = stored_schema(o_);
  to_stored_.assign(o_.user.size(), kNoField);
  for (size_t f = 0, s = 0; f < o_.user.size(); ++f)
    if (f != o_.next) to_stored_[f] = s++;
  obs_stored_ = to_stored_[o_.obs];
  frame_bytes_ = stored[obs_stored_].row_bytes;
  next_row_bytes_ = o_.user[o_.next].row_bytes;
  deps_.assign(storage.capacity(), 0);
}

void Derived::stored_columns(const void* const* cols, uint64_t n, std::vector<const void*>& out,
                             std::vector<uint8_t>& scratch) const {
  out.assign(o_.user.size() - 1, nullptr);
  for (size_t f = 0; f < o_.user.size(); ++f)
    if (to_stored_[f] != kNoField) out[to_stored_[f]] = cols[f];
  if (o_.frames > 1) {  // the newest frame of each stack, contiguous as the storage reads rows
    const size_t fb = frame_bytes_, F = o_.frames;
    scratch.resize(n * fb);
    const auto* src = static_cast<const uint8_t*>(cols[o_.obs]);
    for (uint64_t r = 0; r < n; ++r) std::memcpy(scratch.data() + r * fb, src + (r * F + F - 1) * fb, fb);
    out[obs_stored_] = scratch.data();
  }
}

void Derived::check_push(const void* const* cols, uint64_t n, const uint8_t* term, const uint8_t* trunc,
                         const uint32_t* envs) const {
  if (!o_.validate_next) return;
  const auto* obs = static_cast<const uint8_t*>(cols[o_.obs]);
  const auto* next = static_cast<const uint8_t*>(cols[o_.next]);
  const size_t rb = next_row_bytes_;
  std::unordered_map<uint32_t, uint64_t> last;  // env -> its previous open row in this push
  for (uint64_t r = 0; r < n; ++r) {
    const uint32_t env = envs ? envs[r] : 0;
    const uint8_t* expected = nullptr;
    std::string what;
    auto it = last.find(env);
    if (it != last.end()) {
      expected = next + it->second * rb;
      what = "row " + std::to_string(it->second);
    } else {
      const EpisodeIndex::StreamView v = index_.stream(env);
      if (v.open && v.last_slot != kNoSlot) {
        auto s = side_.find(v.last_slot);
        if (s != side_.end() && !s->second.final && holds(v.last_slot, v.episode, v.next_step - 1)) {
          expected = s->second.next.data();  // the whole row: kept so with validate_next
          what = "the previous push's last row";
        }
      }
    }
    if (expected && std::memcmp(expected, obs + r * rb, rb) != 0)
      fail(ErrorKind::Range, "validateNext: the nextObs of " + what + " (env " + std::to_string(env) +
                                 ") differs from the obs of row " + std::to_string(r) +
                                 ", the next step of its episode; nothing was stored");
    if (term[r] || trunc[r])
      last.erase(env);
    else
      last[env] = r;
  }
}

void Derived::begin_push(const void* const* cols) {
  cols_ = cols;
  fresh_.clear();
  lazy_.clear();
}

void Derived::end_push() {
  // Side entries still pointing into the push's columns become copies.
  const auto* next = static_cast<const uint8_t*>(cols_[o_.next]);
  for (uint64_t slot : lazy_) {
    auto it = side_.find(slot);
    if (it == side_.end() || it->second.row < 0) continue;
    Side& s = it->second;
    const uint8_t* row = next + uint64_t(s.row) * next_row_bytes_;
    if (s.final || !o_.validate_next)
      s.next.assign(row + (o_.frames - 1) * frame_bytes_, row + next_row_bytes_);
    else
      s.next.assign(row, row + next_row_bytes_);
    s.row = -1;
  }
  lazy_.clear();
  fresh_.clear();
  cols_ = nullptr;
}

const uint8_t* Derived::stored_frame(uint64_t slot) const {
  if (!fresh_.empty()) {
    auto it = fresh_.find(slot);
    if (it != fresh_.end())
      return static_cast<const uint8_t*>(cols_[o_.obs]) + (it->second * o_.frames + o_.frames - 1) * frame_bytes_;
  }
  return storage_.field_at(obs_stored_, slot);
}

const uint8_t* Derived::side_frame(const Side& s) const {
  if (s.row >= 0) {
    const uint8_t* row = static_cast<const uint8_t*>(cols_[o_.next]) + uint64_t(s.row) * next_row_bytes_;
    return row + (o_.frames - 1) * frame_bytes_;
  }
  return s.next.size() == frame_bytes_ ? s.next.data() : s.next.data() + (o_.frames - 1) * frame_bytes_;
}

Derived::Ref Derived::before(uint64_t episode, uint64_t step, const Ref& from) const {
  Ref r;
  if (from.slot != kNoSlot) {
    r.slot = index_.prev(from.slot);
    if (r.slot != kNoSlot) return r;
  } else if (from.kept && holds(from.kept->prev_slot, episode, step - 1)) {
    r.slot = from.kept->prev_slot;
    return r;
  }
  auto it = kept_.find(Key{episode, step - 1});
  if (it == kept_.end()) fail(ErrorKind::State, "frame index: a frame read by a stored item is missing (a bug)");
  r.kept = &it->second;
  return r;
}

void Derived::add_ref(const Ref& r, int delta) {
  if (r.slot != kNoSlot) {
    deps_[r.slot] = static_cast<uint16_t>(deps_[r.slot] + delta);
  } else if (r.kept) {
    Kept& k = const_cast<Kept&>(*r.kept);
    k.ref = static_cast<uint32_t>(k.ref + delta);
    if (k.ref == 0 && !k.future) kept_.erase(k.key);
  }
}

bool Derived::future_need(uint32_t env, uint64_t episode, uint64_t step) const {
  if (o_.frames < 2) return false;
  const EpisodeIndex::StreamView v = index_.stream(env);
  return v.open && v.episode == episode && step + o_.frames - 1 >= v.next_step;
}

void Derived::release(uint64_t episode, uint64_t step, uint32_t env, uint32_t deps, uint64_t prev_slot,
                      const uint8_t* frame) {
  const bool future = future_need(env, episode, step);
  if (deps == 0 && !future) return;
  const Key key{episode, step};
  Kept& k = kept_[key];
  k.key = key;
  k.frame.assign(frame, frame + frame_bytes_);
  k.prev_slot = prev_slot;
  k.ref = deps;
  k.env = env;
  k.future = future;
  if (future) {
    if (env >= future_.size()) future_.resize(env + 1);
    future_[env].push_back(key);
  }
}

void Derived::expire_future(uint32_t env) {
  if (env >= future_.size() || future_[env].empty()) return;
  const EpisodeIndex::StreamView v = index_.stream(env);
  std::vector<Key>& list = future_[env];
  size_t keep = 0;
  for (const Key& key : list) {
    if (v.open && v.episode == key.episode && key.step + o_.frames - 1 >= v.next_step) {
      list[keep++] = key;
      continue;
    }
    auto it = kept_.find(key);
    if (it == kept_.end()) continue;
    it->second.future = false;
    if (it->second.ref == 0) kept_.erase(it);
  }
  list.resize(keep);
}

void Derived::before_row(uint64_t slot) {
  if (slot == kNoSlot || index_.episode(slot) == 0) return;  // a fresh slot
  const uint64_t e = index_.episode(slot), k = index_.step(slot);
  // Drop the counts this item holds: on its predecessors' frames, and on its next frame.
  // The walk first, the counts after: dropping a count may free a kept frame the walk goes through.
  Ref cur{slot, nullptr}, held[kMaxFrames];
  uint64_t n_held = 0;
  for (uint64_t j = 1; j < o_.frames && j <= k; ++j) held[n_held++] = cur = before(e, k - j + 1, cur);
  for (uint64_t j = 0; j < n_held; ++j) add_ref(held[j], -1);
  auto side = side_.find(slot);
  if (side != side_.end()) {
    side_.erase(side);
  } else {
    Ref z;
    z.slot = index_.next(slot);
    if (z.slot == kNoSlot) {
      auto it = kept_.find(Key{e, k + 1});
      if (it == kept_.end()) fail(ErrorKind::State, "frame index: a next frame is missing (a bug)");
      z.kept = &it->second;
    }
    add_ref(z, -1);
  }
  // Its own frame goes to the kept store if anything still reads it.
  release(e, k, index_.env(slot), deps_[slot], index_.prev(slot), stored_frame(slot));
  deps_[slot] = 0;
  fresh_.erase(slot);
}

void Derived::after_row(uint64_t slot, uint64_t row, uint32_t env, const EpisodeIndex::StreamView& was) {
  const EpisodeIndex::StreamView now = index_.stream(env);
  const uint64_t e = now.episode, k = now.next_step - 1;
  const bool ends = !now.open;
  // The previous item of the episode, if stored, reads this row's frame as its next one now.
  uint32_t deps = 0;
  const uint64_t p = k > 0 && holds(was.last_slot, e, k - 1) ? was.last_slot : kNoSlot;
  if (p != kNoSlot) {
    side_.erase(p);  // its pending next observation: this row's obs says it now
    ++deps;
  }
  if (slot != kNoSlot) {
    deps_[slot] = static_cast<uint16_t>(deps);
    fresh_[slot] = row;
    Ref cur{slot, nullptr};
    for (uint64_t j = 1; j < o_.frames && j <= k; ++j) {
      cur = before(e, k - j + 1, cur);
      add_ref(cur, +1);
    }
    Side& s = side_[slot];
    s.final = ends;
    s.row = static_cast<int64_t>(row);
    s.next.clear();
    lazy_.push_back(slot);
  } else {
    // Overwritten by the same push at once: its frame is kept if its predecessor or the next
    // steps of its open episode read it.
    const uint8_t* frame = static_cast<const uint8_t*>(cols_[o_.obs]) + (row * o_.frames + o_.frames - 1) * frame_bytes_;
    release(e, k, env, deps, p, frame);
  }
  expire_future(env);
}

void Derived::clear() {
  // What survives: the frames that the next steps of each open episode will read (the last F-1
  // of it), as kept frames with no stored reader.
  std::unordered_map<Key, Kept, KeyHash> survivors;
  std::vector<std::vector<Key>> future(future_.size());
  if (o_.frames > 1) {
    for (uint32_t env = 0; env < index_.streams(); ++env) {
      const EpisodeIndex::StreamView v = index_.stream(env);
      if (!v.open || v.next_step == 0) continue;
      const uint64_t e = v.episode, newest = v.next_step - 1;
      Ref cur;
      if (holds(v.last_slot, e, newest)) {
        cur.slot = v.last_slot;
      } else {
        auto it = kept_.find(Key{e, newest});
        if (it == kept_.end()) continue;
        cur.kept = &it->second;
      }
      for (uint64_t j = 0; j + 1 < o_.frames && j <= newest; ++j) {
        if (j > 0) cur = before(e, newest - j + 1, cur);
        const uint8_t* frame = cur.slot != kNoSlot ? stored_frame(cur.slot) : cur.kept->frame.data();
        const Key key{e, newest - j};
        Kept& k = survivors[key];
        k.key = key;
        k.frame.assign(frame, frame + frame_bytes_);
        k.env = env;
        k.future = true;
        if (env >= future.size()) future.resize(env + 1);
        future[env].push_back(key);
      }
    }
  }
  kept_ = std::move(survivors);
  future_ = std::move(future);
  side_.clear();
  std::fill(deps_.begin(), deps_.end(), 0);
}

const uint8_t* Derived::next_frame(uint64_t slot, Ref* ref) const {
  auto side = side_.find(slot);
  if (side != side_.end()) return side_frame(side->second);
  ref->slot = index_.next(slot);
  if (ref->slot != kNoSlot) return nullptr;
  auto it = kept_.find(Key{index_.episode(slot), index_.step(slot) + 1});
  if (it == kept_.end()) fail(ErrorKind::State, "frame index: a next frame is missing (a bug)");
  ref->kept = &it->second;
  return nullptr;
}

void Derived::plan(const uint64_t* obs_slots, const uint64_t* next_slots, uint64_t n, FramePlan& p) const {
  const uint32_t F = o_.frames;
  p.n = n;
  p.obs = obs_slots != nullptr;
  p.next = next_slots != nullptr;
  p.src.assign(n * F * 2, nullptr);
  p.slots.clear();
  p.pending.clear();
  auto put = [&](size_t at, const Ref& r) {
    if (r.slot != kNoSlot) {
      p.slots.push_back(r.slot);
      p.src[at] = storage_.field_at(obs_stored_, r.slot);
    } else if (r.kept) {
      p.pending.emplace_back(at, r.kept->frame.data());
    }
  };
  // Frames F-1-from .. 0 of a stack whose newest-but-`from` frame is item `slot`'s own.
  auto stack = [&](size_t base, uint64_t slot, uint32_t newest) {
    const uint64_t e = index_.episode(slot), k = index_.step(slot);
    Ref cur{slot, nullptr};
    put(base + newest, cur);
    for (uint64_t j = 1; j <= newest && j <= k; ++j) {
      cur = before(e, k - j + 1, cur);
      put(base + newest - j, cur);
    }
  };
  for (uint64_t i = 0; i < n; ++i) {
    if (obs_slots && obs_slots[i] != kNoSlot) stack(i * F, obs_slots[i], F - 1);
    if (next_slots && next_slots[i] != kNoSlot) {
      const size_t base = (n + i) * F;
      Ref r;
      if (const uint8_t* side = next_frame(next_slots[i], &r))
        p.pending.emplace_back(base + F - 1, side);
      else
        put(base + F - 1, r);
      if (F > 1) stack(base, next_slots[i], F - 2);
    }
  }
}

void Derived::settle(FramePlan& p) const {
  const size_t fb = frame_bytes_;
  p.copies.resize(p.pending.size() * fb);
  for (size_t j = 0; j < p.pending.size(); ++j) {
    std::memcpy(p.copies.data() + j * fb, p.pending[j].second, fb);
    p.src[p.pending[j].first] = p.copies.data() + j * fb;
  }
  p.pending.clear();
}

void Derived::fill(const FramePlan& p, void* obs_out, void* next_out) const {
  const size_t fb = frame_bytes_, F = o_.frames;
  auto copy = [&](void* out, size_t base) {
    auto* dst = static_cast<uint8_t*>(out);
    for (size_t j = 0; j < p.n * F; ++j) {
      if (j + 8 < p.n * F && p.src[base + j + 8]) __builtin_prefetch(p.src[base + j + 8]);
      if (const uint8_t* s = p.src[base + j])
        std::memcpy(dst + j * fb, s, fb);
      else
        std::memset(dst + j * fb, 0, fb);
    }
  };
  if (p.obs && obs_out) copy(obs_out, 0);
  if (p.next && next_out) copy(next_out, p.n * F);
}

namespace {
constexpr uint32_t kDerivedMagic = 0x44524B52;  // "RKRD"
template <typename T>
void put(std::vector<uint8_t>& out, T v) {
  const size_t at = out.size();
  out.resize(at + sizeof v);
  std::memcpy(out.data() + at, &v, sizeof v);
}
struct Reader {
  const uint8_t* p;
  uint64_t left;
  template <typename T>
  T get() {
    T v;
    need(sizeof v);
    std::memcpy(&v, p, sizeof v);
    p += sizeof v;
    left -= sizeof v;
    return v;
  }
  const uint8_t* take(uint64_t n) {
    need(n);
    const uint8_t* at = p;
    p += n;
    left -= n;
    return at;
  }
  void need(uint64_t n) const {
    if (n > left) fail(ErrorKind::Archive, "the derived-fields state is truncated");
  }
};
}  // namespace

std::vector<uint8_t> Derived::save() const {
  std::vector<uint8_t> out;
  put<uint32_t>(out, kDerivedMagic);
  put<uint32_t>(out, o_.frames);
  put<uint64_t>(out, frame_bytes_);
  put<uint64_t>(out, deps_.size());
  put<uint64_t>(out, side_.size());
  put<uint64_t>(out, kept_.size());
  for (uint16_t d : deps_) put<uint16_t>(out, d);
  std::vector<uint64_t> slots;
  for (const auto& e : side_) slots.push_back(e.first);
  std::sort(slots.begin(), slots.end());
  for (uint64_t slot : slots) {
    const Side& sd = side_.at(slot);
    put<uint64_t>(out, slot);
    put<uint8_t>(out, sd.final);
    put<uint64_t>(out, sd.next.size());
    out.insert(out.end(), sd.next.begin(), sd.next.end());
  }
  std::vector<Key> keys;
  for (const auto& e : kept_) keys.push_back(e.first);
  std::sort(keys.begin(), keys.end(), [](const Key& a, const Key& b) { return a.episode < b.episode || (a.episode == b.episode && a.step < b.step); });
  for (const Key& key : keys) {
    const Kept& k = kept_.at(key);
    put<uint64_t>(out, key.episode);
    put<uint64_t>(out, key.step);
    put<uint64_t>(out, k.prev_slot);
    put<uint32_t>(out, k.ref);
    put<uint32_t>(out, k.env);
    put<uint8_t>(out, k.future);
    out.insert(out.end(), k.frame.begin(), k.frame.end());
  }
  return out;
}

void Derived::restore(const uint8_t* bytes, uint64_t size) {
  Reader r{bytes, size};
  if (r.get<uint32_t>() != kDerivedMagic) fail(ErrorKind::Archive, "the derived-fields state has no valid magic");
  if (r.get<uint32_t>() != o_.frames || r.get<uint64_t>() != frame_bytes_ || r.get<uint64_t>() != deps_.size())
    fail(ErrorKind::Archive, "the derived-fields state is of another frame stack, frame size or capacity");
  const uint64_t n_side = r.get<uint64_t>(), n_kept = r.get<uint64_t>();
  if (n_side > deps_.size()) fail(ErrorKind::Archive, "the derived-fields state has more side entries than slots");
  std::vector<uint16_t> deps(deps_.size());
  for (auto& d : deps) {
    d = r.get<uint16_t>();
    if (d > o_.frames) fail(ErrorKind::Archive, "the derived-fields state has an impossible reader count");
  }
  std::unordered_map<uint64_t, Side> side;
  for (uint64_t i = 0; i < n_side; ++i) {
    const uint64_t slot = r.get<uint64_t>();
    Side sd;
    sd.final = r.get<uint8_t>() != 0;
    const uint64_t len = r.get<uint64_t>();
    if (slot >= deps_.size() || (len != frame_bytes_ && len != next_row_bytes_) || side.count(slot))
      fail(ErrorKind::Archive, "the derived-fields state has a bad side entry");
    const uint8_t* at = r.take(len);
    sd.next.assign(at, at + len);
    side.emplace(slot, std::move(sd));
  }
  std::unordered_map<Key, Kept, KeyHash> kept;
  std::vector<std::vector<Key>> future;
  for (uint64_t i = 0; i < n_kept; ++i) {
    Kept k;
    k.key.episode = r.get<uint64_t>();
    k.key.step = r.get<uint64_t>();
    k.prev_slot = r.get<uint64_t>();
    k.ref = r.get<uint32_t>();
    k.env = r.get<uint32_t>();
    k.future = r.get<uint8_t>() != 0;
    if ((k.prev_slot != kNoSlot && k.prev_slot >= deps_.size()) || k.env >= kMaxEnvStreams || (k.ref == 0 && !k.future) ||
        kept.count(k.key))
      fail(ErrorKind::Archive, "the derived-fields state has a bad kept frame");
    const uint8_t* at = r.take(frame_bytes_);
    k.frame.assign(at, at + frame_bytes_);
    if (k.future) {
      if (k.env >= future.size()) future.resize(k.env + 1);
      future[k.env].push_back(k.key);
    }
    const Key key = k.key;
    kept.emplace(key, std::move(k));
  }
  if (r.left != 0) fail(ErrorKind::Archive, "the derived-fields state has trailing bytes");
  deps_ = std::move(deps);
  side_ = std::move(side);
  kept_ = std::move(kept);
  future_ = std::move(future);
}

void Derived::check_restored() const {
  auto lie = [](const std::string& what) {
    fail(ErrorKind::Archive, "not a valid archive: the derived-fields state " + what);
  };
  const uint64_t cap = deps_.size();
  // The counts the stored items give, recounted from the index: one per frame each reads
  // besides its own (its F-1 predecessors, and its next frame unless a side entry holds it).
  std::vector<uint32_t> deps(cap, 0);
  std::unordered_map<Key, uint32_t, KeyHash> refs;
  auto count = [&](const Ref& r) {
    if (r.slot != kNoSlot)
      ++deps[r.slot];
    else if (r.kept)
      ++refs[r.kept->key];
  };
  for (uint64_t slot = 0; slot < cap; ++slot) {
    if (!index_.stored(slot)) continue;
    const uint64_t e = index_.episode(slot), k = index_.step(slot);
    auto item = [slot] { return "the item in slot " + std::to_string(slot); };  // for messages only
    try {
      Ref cur{slot, nullptr};
      for (uint64_t j = 1; j < o_.frames && j <= k; ++j) {
        cur = before(e, k - j + 1, cur);
        count(cur);
      }
    } catch (const Error&) {
      lie("misses a frame that " + item() + " stacks");
    }
    auto side = side_.find(slot);
    if (side != side_.end()) {
      const Side& sd = side->second;
      if (sd.final != index_.ends(slot)) lie("has a final next observation for " + item() + ", which does not end its episode");
      if (!sd.final) {
        const EpisodeIndex::StreamView v = index_.stream(index_.env(slot));
        if (!v.open || v.last_slot != slot || !holds(slot, v.episode, v.next_step - 1))
          lie("has a pending next observation for " + item() + ", which is not its open episode's newest");
      }
      if (sd.next.size() != (sd.final || !o_.validate_next ? frame_bytes_ : next_row_bytes_))
        lie("has a next observation of the wrong size for " + item());
    } else {
      if (index_.ends(slot)) lie("has no final next observation for " + item() + ", which ends its episode");
      Ref z;
      z.slot = index_.next(slot);
      if (z.slot == kNoSlot) {
        auto it = kept_.find(Key{e, k + 1});
        if (it == kept_.end()) lie("misses the next frame of " + item());
        z.kept = &it->second;
      }
      count(z);
    }
  }
  for (const auto& sd : side_)
    if (!index_.stored(sd.first)) lie("has a next observation for the empty slot " + std::to_string(sd.first));
  for (uint64_t slot = 0; slot < cap; ++slot)
    if (deps_[slot] != deps[slot])
      lie("counts " + std::to_string(deps_[slot]) + " readers of slot " + std::to_string(slot) + "'s frame; the items give " +
          std::to_string(deps[slot]));
  for (const auto& kv : kept_) {
    auto it = refs.find(kv.first);
    if (kv.second.ref != (it == refs.end() ? 0 : it->second)) lie("has a kept frame whose reader count is not its readers'");
    if (kv.second.future != future_need(kv.second.env, kv.first.episode, kv.first.step))
      lie("has a kept frame whose open episode's next steps read it otherwise than it says");
  }
}

void Derived::release() {
  kept_ = {};
  side_ = {};
  future_ = {};
  deps_ = {};
  fresh_ = {};
  lazy_ = {};
}

size_t Derived::bytes() const {
  size_t b = deps_.size() * sizeof(uint16_t);
  for (const auto& s : side_) b += s.second.next.capacity() + 64;
  for (const auto& k : kept_) b += k.second.frame.capacity() + 96;
  return b;
}

}  // namespace replaykit
