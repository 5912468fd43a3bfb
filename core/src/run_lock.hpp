// One writer per run folder. A process that writes a run (or a sweep) folder holds an
// exclusive flock(2) on DIR/psl.lock for as long as it writes; the kernel releases it when
// the process ends, however it ends, so a killed writer never leaves a stale lock behind.
#pragma once

#include <filesystem>
#include <stdexcept>

namespace psl {

// Another process writes the folder.
class FolderBusy : public std::runtime_error {
  using std::runtime_error::runtime_error;
};

class FolderLock {
 public:
  // Creates DIR if needed and takes its lock, or throws FolderBusy naming the holder's
  // pid (read from the lock file, which the holder writes after locking).
  explicit FolderLock(const std::filesystem::path& dir);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

 private:
  int fd_ = -1;
};

}  // namespace psl
