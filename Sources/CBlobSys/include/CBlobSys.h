// Linux calls and constants that Swift's Glibc module does not reach (they need _GNU_SOURCE,
// are variadic, or live in headers the module leaves out). Thin wrappers only: every policy,
// EINTR retry and error mapping lives in Swift's system layer (BlobStore/System/).
#ifndef CBLOBSYS_H
#define CBLOBSYS_H

#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The thread's errno, read at once after a failing call.
int cbs_errno(void);

/// open(2) with O_TMPFILE|O_RDWR|O_CLOEXEC in directory `dir`; -1 and errno when unsupported.
int cbs_open_tmpfile(int dirfd, const char *dir, mode_t mode);

/// openat(2) without the variadic mode argument problem.
int cbs_openat(int dirfd, const char *path, int flags, mode_t mode);

/// linkat(2) of an open O_TMPFILE descriptor under `name` in `dirfd`: AT_EMPTY_PATH first,
/// then the /proc/self/fd path (which needs no CAP_DAC_READ_SEARCH).
int cbs_link_descriptor(int fd, int dirfd, const char *name);

/// sync_file_range(2) with SYNC_FILE_RANGE_WRITE: start writeback without waiting.
int cbs_start_writeback(int fd, off_t offset, off_t length);

/// sync_file_range(2) waiting for writeback of the range to finish.
int cbs_wait_writeback(int fd, off_t offset, off_t length);

/// posix_fadvise(2) POSIX_FADV_DONTNEED: returns 0 or an error number (not errno).
int cbs_drop_pages(int fd, off_t offset, off_t length);

/// sendfile(2): bytes sent, or -1 and errno.
ssize_t cbs_sendfile(int out_fd, int in_fd, off_t *offset, size_t count);

/// mincore(2) over a read-only mapping of [0, length) of `fd`: resident pages, or -1.
int64_t cbs_resident_pages(int fd, uint64_t length);

/// The pages of `fd`'s file in the page cache: cachestat(2) (Linux 6.5), which counts only the
/// pages present, else cbs_resident_pages, which looks up every page of the file. -1 on error.
int64_t cbs_cached_pages(int fd, uint64_t length);

/// renameat2(2) with RENAME_NOREPLACE.
int cbs_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath);

/// accept4(2) with SOCK_NONBLOCK|SOCK_CLOEXEC: the accepted socket is ready for the event loop.
int cbs_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length);

/// pthread_setname_np(3) for the calling thread (names longer than 15 bytes are cut).
void cbs_set_thread_name(const char *name);

/// pread that fails with EAGAIN instead of waiting for the disk (preadv2 with RWF_NOWAIT):
/// the event loop reads small blobs only when their pages are already cached.
ssize_t cbs_pread_nowait(int fd, void *buffer, size_t count, off_t offset);

/// Returns the heap's free memory to the kernel (glibc's malloc_trim(0)).
void cbs_trim_heap(void);

/// A counting semaphore on the heap, for the worker pool's queue.
void *cbs_semaphore_create(void);
void cbs_semaphore_destroy(void *semaphore);
void cbs_semaphore_post(void *semaphore);
void cbs_semaphore_wait(void *semaphore);

/// Constants not visible through Glibc.
extern const int cbs_O_DIRECTORY;
extern const int cbs_O_NOFOLLOW;
extern const int cbs_O_CLOEXEC;
extern const int cbs_O_PATH;

#ifdef __cplusplus
}
#endif
#endif
