// Package prefault maps the agentd binary's read-only segments into the
// process at once, when package initialisation begins.
//
// Every agentd operation is one to three starts of this 13 MB Go binary
// (the CLI, `agentd init`), and on a VM a page fault is costly (15-20 µs on
// the benchmark machine): the code and read-only data that a start touches
// fault in ~130 times, 64 KB at a time. One madvise(MADV_POPULATE_READ) of
// those segments (already in the page cache) maps all 13 MB in ~0.3 ms.
// It runs from a Go package init rather than a C constructor because the
// process that matters most, `agentd init`, is a child that libcontainer's
// nsexec constructor forks, and a fork does not inherit the mappings of
// unmodified file pages. A kernel without MADV_POPULATE_READ (before 5.14)
// answers EINVAL, and nothing changes.
//
// The package imports nothing but cgo, so that its init runs before those
// of the packages that touch most of the binary.
package prefault

/*
#define _GNU_SOURCE
#include <link.h>
#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#endif

// agentd_populate populates the program's read-only segments and counts
// in *data those the kernel mapped.
static int agentd_populate(struct dl_phdr_info *info, size_t size, void *data)
{
	(void)size;
	int *done = data;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || (ph->p_flags & PF_W))
			continue;
		uintptr_t start = (info->dlpi_addr + ph->p_vaddr) & ~(uintptr_t)4095;
		uintptr_t end = info->dlpi_addr + ph->p_vaddr + ph->p_memsz;
		if (madvise((void *)start, end - start, MADV_POPULATE_READ) == 0)
			(*done)++;
	}
	return 1; // the first object is the program itself: done
}

static int agentd_prefault(void)
{
	int done = 0;
	dl_iterate_phdr(agentd_populate, &done);
	return done;
}
*/
import "C"

// populated is how many read-only segments the kernel mapped.
var populated = int(C.agentd_prefault())
