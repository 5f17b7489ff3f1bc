#pragma once

// The last results of one check, for status pages.

#include <chrono>
#include <cstddef>
#include <deque>
#include <string>

namespace sidecar {

struct history_entry {
  std::chrono::system_clock::time_point time;
  std::chrono::steady_clock::duration duration{};
  bool passed = false;
  std::string reason;
  std::string message;
};

class history {
 public:
  explicit history(std::size_t capacity = 20) : capacity_(capacity) {}

  void add(history_entry entry) {
    if (entries_.size() == capacity_) entries_.pop_front();
    entries_.push_back(std::move(entry));
  }
  // Oldest first.
  const std::deque<history_entry>& entries() const { return entries_; }
  const history_entry* last() const { return entries_.empty() ? nullptr : &entries_.back(); }

 private:
  std::size_t capacity_;
  std::deque<history_entry> entries_;
};

}  // namespace sidecar
