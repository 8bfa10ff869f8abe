#include "episodes.h"

#include <algorithm>
#include <cstring>
#include <string>

#include "error.h"

namespace replaykit {

EpisodeIndex::EpisodeIndex(uint64_t capacity)
    : items_(capacity) {}

void EpisodeIndex::on_write(uint64_t slot, uint32_t env, bool terminated, bool truncated) {
  if (env >= kMaxEnvStreams) fail(ErrorKind::Range, "an env id must be below 2^20, got " + std::to_string(env));
  if (env >= streams_.size()) streams_.resize(env + 1);
  Stream& s = streams_[env];
  if (!s.open) {
    s.open = true;
    s.episode = next_episode_++;
    s.next_step = 0;
  }
  if (slot != kNoSlot) {
    items_[slot].episode = s.episode;
    items_[slot].step = s.next_step;
    items_[slot].env = env;
    items_[slot].flags = (terminated ? kTerminated : 0) | (truncated ? kTruncated : 0);
    items_[slot].next = kNoSlot;
    items_[slot].prev = s.last_slot;
    // The stream's previous row, if its slot still holds it: this row follows it (in its
    // episode, or as the first row of the next one).
    const uint64_t last = s.last_slot;
    if (last != kNoSlot && items_[last].episode == s.last_episode && items_[last].step == s.last_step) items_[last].next = slot;
  }
  s.last_slot = slot;
  s.last_episode = s.episode;
  s.last_step = s.next_step;
  ++s.next_step;
  if (terminated || truncated) s.open = false;
}

void EpisodeIndex::clear() {
  std::fill(items_.begin(), items_.end(), Item{});
  for (Stream& s : streams_) s.last_slot = kNoSlot;
}

namespace {

uint64_t pad8(uint64_t x) { return (x + 7) & ~uint64_t(7); }

// Where each array of a section starts.
struct SectionLayout {
  uint64_t episode, step, prev, next, env, flags, s_episode, s_step, s_last, s_last_episode, s_last_step, s_open, end;
  SectionLayout(uint64_t items, uint64_t streams) {
    uint64_t at = sizeof(EpisodesRecord);
    auto take = [&at](uint64_t bytes) {
      const uint64_t start = at;
      at = pad8(at + bytes);
      return start;
    };
    episode = take(8 * items);
    step = take(8 * items);
    prev = take(8 * items);
    next = take(8 * items);
    env = take(4 * items);
    flags = take(items);
    s_episode = take(8 * streams);
    s_step = take(8 * streams);
    s_last = take(8 * streams);
    s_last_episode = take(8 * streams);
    s_last_step = take(8 * streams);
    s_open = take(streams);
    end = at;
  }
};

template <typename T>
void put(std::vector<uint8_t>& out, uint64_t at, const T* src, uint64_t n) {
  if (n) std::memcpy(out.data() + at, src, sizeof(T) * n);
}

template <typename T>
T get(const uint8_t* bytes, uint64_t at, uint64_t i) {
  T x;
  std::memcpy(&x, bytes + at + sizeof(T) * i, sizeof(T));
  return x;
}

[[noreturn]] void bad(const std::string& what) { fail(ErrorKind::Archive, "not a valid archive: episode index: " + what); }

}  // namespace

uint64_t episodes_section_bytes(uint64_t items, uint64_t streams) {
  // Bounded by the capacity and kMaxEnvStreams (checked by the callers): no overflow.
  return SectionLayout(items, streams).end;
}

std::vector<uint8_t> EpisodeIndex::encode(uint64_t length, EpisodesRecord r) const {
  const uint64_t streams = streams_.size();
  const SectionLayout l(length, streams);
  std::vector<uint8_t> out(l.end, 0);
  r.items = length;
  r.streams = streams;
  r.next_episode = next_episode_;
  std::memcpy(out.data(), &r, sizeof r);
  for (uint64_t i = 0; i < length; ++i) {
    const Item& it = items_[i];
    put(out, l.episode + 8 * i, &it.episode, 1);
    put(out, l.step + 8 * i, &it.step, 1);
    put(out, l.prev + 8 * i, &it.prev, 1);
    put(out, l.next + 8 * i, &it.next, 1);
    put(out, l.env + 4 * i, &it.env, 1);
    put(out, l.flags + i, &it.flags, 1);
  }
  for (uint64_t e = 0; e < streams; ++e) {
    const Stream& st = streams_[e];
    const uint8_t open = st.open;
    put(out, l.s_episode + 8 * e, &st.episode, 1);
    put(out, l.s_step + 8 * e, &st.next_step, 1);
    put(out, l.s_last + 8 * e, &st.last_slot, 1);
    put(out, l.s_last_episode + 8 * e, &st.last_episode, 1);
    put(out, l.s_last_step + 8 * e, &st.last_step, 1);
    put(out, l.s_open + e, &open, 1);
  }
  return out;
}

void EpisodeIndex::restore(const uint8_t* bytes, uint64_t size, uint64_t length, const uint8_t* terminated,
                           const uint8_t* truncated) {
  const uint64_t cap = capacity();
  if (size < sizeof(EpisodesRecord)) bad("the section is shorter than its record");
  EpisodesRecord r;
  std::memcpy(&r, bytes, sizeof r);
  if (r.items != length) bad("it holds " + std::to_string(r.items) + " items, the archive " + std::to_string(length));
  if (r.streams > kMaxEnvStreams) bad("more env streams than an index keeps");
  if (r.reserved0 != 0 || r.reserved != 0) bad("reserved bytes are not zero");
  const SectionLayout l(length, r.streams);
  if (size != l.end) bad("the section is " + std::to_string(size) + " bytes, expected " + std::to_string(l.end));
  if (r.next_episode == 0 || r.next_episode > (uint64_t(1) << 62)) bad("the next episode id is out of range");
  // Every slot first: nothing changes until all of it holds.
  for (uint64_t s = 0; s < length; ++s) {
    const uint64_t ep = get<uint64_t>(bytes, l.episode, s), step = get<uint64_t>(bytes, l.step, s);
    const uint64_t prev = get<uint64_t>(bytes, l.prev, s), next = get<uint64_t>(bytes, l.next, s);
    const uint32_t env = get<uint32_t>(bytes, l.env, s);
    const uint8_t flags = get<uint8_t>(bytes, l.flags, s);
    if (ep == 0 || ep >= r.next_episode) bad("slot " + std::to_string(s) + " has an episode id out of range");
    if (step > (uint64_t(1) << 62)) bad("slot " + std::to_string(s) + " has a step out of range");
    if ((prev != kNoSlot && prev >= cap) || (next != kNoSlot && next >= cap)) bad("slot " + std::to_string(s) + " links outside the buffer");
    if (env >= r.streams) bad("slot " + std::to_string(s) + " has an env id no stream has");
    if (flags != ((terminated[s] ? kTerminated : 0) | (truncated[s] ? kTruncated : 0)))
      bad("slot " + std::to_string(s) + "'s end flags differ from its stored terminated / truncated");
  }
  for (uint64_t e = 0; e < r.streams; ++e) {
    const uint64_t ep = get<uint64_t>(bytes, l.s_episode, e), step = get<uint64_t>(bytes, l.s_step, e);
    const uint64_t last = get<uint64_t>(bytes, l.s_last, e);
    const uint64_t last_ep = get<uint64_t>(bytes, l.s_last_episode, e), last_step = get<uint64_t>(bytes, l.s_last_step, e);
    const uint8_t open = get<uint8_t>(bytes, l.s_open, e);
    if (ep >= r.next_episode || last_ep >= r.next_episode || step > (uint64_t(1) << 62) || last_step > (uint64_t(1) << 62) ||
        (last != kNoSlot && last >= cap) || open > 1)
      bad("env stream " + std::to_string(e) + " is out of range");
  }
  // Apply.
  std::fill(items_.begin(), items_.end(), Item{});
  for (uint64_t s = 0; s < length; ++s) {
    items_[s].episode = get<uint64_t>(bytes, l.episode, s);
    items_[s].step = get<uint64_t>(bytes, l.step, s);
    items_[s].prev = get<uint64_t>(bytes, l.prev, s);
    items_[s].next = get<uint64_t>(bytes, l.next, s);
    items_[s].env = get<uint32_t>(bytes, l.env, s);
    items_[s].flags = get<uint8_t>(bytes, l.flags, s);
  }
  streams_.assign(r.streams, Stream{});
  for (uint64_t e = 0; e < r.streams; ++e) {
    Stream& st = streams_[e];
    st.episode = get<uint64_t>(bytes, l.s_episode, e);
    st.next_step = get<uint64_t>(bytes, l.s_step, e);
    st.last_slot = get<uint64_t>(bytes, l.s_last, e);
    st.last_episode = get<uint64_t>(bytes, l.s_last_episode, e);
    st.last_step = get<uint64_t>(bytes, l.s_last_step, e);
    st.open = get<uint8_t>(bytes, l.s_open, e) != 0;
  }
  next_episode_ = r.next_episode;
}

}  // namespace replaykit
