#define _GNU_SOURCE
#include "CBlobSys.h"

#include <errno.h>
#include <pthread.h>
#include <malloc.h>
#include <semaphore.h>
#include <stdlib.h>
#include <sys/uio.h>
#include <string.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/syscall.h>
#include <unistd.h>

/* cachestat(2) has the same number on every architecture; older headers do not name it. */
#ifndef __NR_cachestat
#define __NR_cachestat 451
#endif

int cbs_errno(void) { return errno; }

int cbs_open_tmpfile(int dirfd, const char *dir, mode_t mode) {
    return openat(dirfd, dir, O_TMPFILE | O_RDWR | O_CLOEXEC, mode);
}

int cbs_openat(int dirfd, const char *path, int flags, mode_t mode) {
    return openat(dirfd, path, flags, mode);
}

int cbs_link_descriptor(int fd, int dirfd, const char *name) {
    if (linkat(fd, "", dirfd, name, AT_EMPTY_PATH) == 0) return 0;
    if (errno != ENOENT && errno != EPERM) return -1;
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    return linkat(AT_FDCWD, path, dirfd, name, AT_SYMLINK_FOLLOW);
}

int cbs_start_writeback(int fd, off_t offset, off_t length) {
    return sync_file_range(fd, offset, length, SYNC_FILE_RANGE_WRITE);
}

int cbs_wait_writeback(int fd, off_t offset, off_t length) {
    return sync_file_range(fd, offset, length,
                           SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
}

int cbs_drop_pages(int fd, off_t offset, off_t length) {
    return posix_fadvise(fd, offset, length, POSIX_FADV_DONTNEED);
}

ssize_t cbs_sendfile(int out_fd, int in_fd, off_t *offset, size_t count) {
    return sendfile(out_fd, in_fd, offset, count);
}

int64_t cbs_resident_pages(int fd, uint64_t length) {
    if (length == 0) return 0;
    long page = sysconf(_SC_PAGESIZE);
    size_t pages = (size_t)((length + (uint64_t)page - 1) / (uint64_t)page);
    void *map = mmap(NULL, (size_t)length, PROT_READ, MAP_SHARED, fd, 0);
    if (map == MAP_FAILED) return -1;
    int64_t resident = 0;
    unsigned char vec[4096];
    for (size_t done = 0; done < pages;) {
        size_t n = pages - done < sizeof vec ? pages - done : sizeof vec;
        if (mincore((char *)map + done * (size_t)page, n * (size_t)page, vec) != 0) {
            int saved = errno;
            munmap(map, (size_t)length);
            errno = saved;
            return -1;
        }
        for (size_t i = 0; i < n; i++) resident += vec[i] & 1;
        done += n;
    }
    munmap(map, (size_t)length);
    return resident;
}

int64_t cbs_cached_pages(int fd, uint64_t length) {
    struct { uint64_t off, len; } range = {0, 0};  /* len 0: to the end of the file */
    struct { uint64_t cache, dirty, writeback, evicted, recently_evicted; } stat;
    if (syscall(__NR_cachestat, fd, &range, &stat, 0) == 0) return (int64_t)stat.cache;
    /* ENOSYS before 6.5, or EPERM from a seccomp filter that does not know the call. */
    return cbs_resident_pages(fd, length);
}

int cbs_rename_noreplace(int olddirfd, const char *oldpath, int newdirfd, const char *newpath) {
    return renameat2(olddirfd, oldpath, newdirfd, newpath, RENAME_NOREPLACE);
}

int cbs_accept_nonblocking(int fd, struct sockaddr *address, socklen_t *length) {
    return accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
}

void cbs_set_thread_name(const char *name) {
    char cut[16];
    strncpy(cut, name, sizeof cut - 1);
    cut[sizeof cut - 1] = 0;
    pthread_setname_np(pthread_self(), cut);
}

ssize_t cbs_pread_nowait(int fd, void *buffer, size_t count, off_t offset) {
    struct iovec vector = { .iov_base = buffer, .iov_len = count };
    return preadv2(fd, &vector, 1, offset, RWF_NOWAIT);
}

void cbs_trim_heap(void) { malloc_trim(0); }

void *cbs_semaphore_create(void) {
    sem_t *semaphore = malloc(sizeof *semaphore);
    if (semaphore) sem_init(semaphore, 0, 0);
    return semaphore;
}

void cbs_semaphore_destroy(void *semaphore) {
    sem_destroy(semaphore);
    free(semaphore);
}

void cbs_semaphore_post(void *semaphore) { sem_post(semaphore); }

void cbs_semaphore_wait(void *semaphore) {
    while (sem_wait(semaphore) != 0 && errno == EINTR) {}
}

const int cbs_O_DIRECTORY = O_DIRECTORY;
const int cbs_O_NOFOLLOW = O_NOFOLLOW;
const int cbs_O_CLOEXEC = O_CLOEXEC;
const int cbs_O_PATH = O_PATH;
