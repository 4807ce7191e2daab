/*
 * LD_PRELOAD shim for User-Mode Linux kernels older than ~6.10 (Debian's 6.1).
 *
 * Those kernels save and restore their processes' FPU state with
 * PTRACE_GETREGSET/SETREGSET(NT_X86_XSTATE) using a fixed 2696-byte buffer.
 * The host kernel accepts SETREGSET only with a buffer of exactly its own
 * XSAVE size, which is larger on CPUs with AMX (about 11 KiB), so every
 * guest process dies with "ptrace set fp regs failed, errno = 14".
 *
 * This shim widens such a SETREGSET: it reads the task's full state, lays the
 * guest kernel's (shorter) buffer over its start and writes the whole thing
 * back.  Everything else goes straight to glibc's ptrace().
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/types.h>
#include <sys/uio.h>

typedef long (*ptrace_fn)(enum __ptrace_request, pid_t, void *, void *);

long ptrace(enum __ptrace_request request, ...)
{
	static ptrace_fn real;
	static unsigned char full[1 << 16];
	va_list ap;
	pid_t pid;
	void *addr, *data;

	va_start(ap, request);
	pid = va_arg(ap, pid_t);
	addr = va_arg(ap, void *);
	data = va_arg(ap, void *);
	va_end(ap);
	if (!real)
		real = (ptrace_fn)dlsym(RTLD_NEXT, "ptrace");

	if (request == PTRACE_SETREGSET && (long)addr == NT_X86_XSTATE && data) {
		struct iovec *given = data;
		struct iovec whole = { full, sizeof(full) };

		if (real(PTRACE_GETREGSET, pid, (void *)NT_X86_XSTATE, &whole) == 0 &&
		    whole.iov_len > given->iov_len) {
			memcpy(full, given->iov_base, given->iov_len);
			return real(PTRACE_SETREGSET, pid, (void *)NT_X86_XSTATE, &whole);
		}
	}
	return real(request, pid, addr, data);
}
