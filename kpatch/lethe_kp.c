// SPDX-License-Identifier: GPL-2.0
/*
 * lethe_kp: the minimal kernel helper of lethe. /dev/lethe copies pages from a
 * stopped snapshot twin into a stopped target in one kernel copy, no bounce buffer.
 */
#include <linux/fs.h>
#include <linux/highmem.h>
#include <linux/miscdevice.h>
#include <linux/mm.h>
#include <linux/module.h>
#include <linux/pid.h>
#include <linux/ptrace.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>
#include <linux/uaccess.h>
#include <linux/version.h>
#include "lethe/dev.h"

/* Linux 6.5 dropped the vmas argument of get_user_pages_remote (commit ca5e8632). */
static long lethe_kp_gup(struct mm_struct *mm, unsigned long addr, unsigned int flags, struct page **page,
			 int *locked)
{
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 5, 0)
	return get_user_pages_remote(mm, addr, 1, flags, page, locked);
#else
	return get_user_pages_remote(mm, addr, 1, flags, page, NULL, locked);
#endif
}

/* The task behind pid in the caller's namespace, if the caller ptrace-stopped it. */
static struct task_struct *lethe_kp_stopped_tracee(pid_t pid, int *err)
{
	struct task_struct *t = get_pid_task(find_get_pid(pid), PIDTYPE_PID);
	bool ok;

	if (!t) {
		*err = -ESRCH;
		return NULL;
	}
	rcu_read_lock();
	ok = t->ptrace && rcu_dereference(t->parent) == current && task_is_traced(t);
	rcu_read_unlock();
	if (!ok) {
		put_task_struct(t);
		*err = -EPERM;
		return NULL;
	}
	return t;
}

/* Copy one page from src_mm to dst_mm at addr. */
static int lethe_kp_copy_page(struct mm_struct *dst_mm, struct mm_struct *src_mm, unsigned long addr)
{
	struct page *src = NULL, *dst = NULL;
	int locked = 1;
	long n;

	if (mmap_read_lock_killable(src_mm))
		return -EINTR;
	n = lethe_kp_gup(src_mm, addr, 0, &src, &locked);
	if (locked)
		mmap_read_unlock(src_mm);
	if (n != 1)
		return n < 0 ? (int)n : -EFAULT;

	locked = 1;
	if (mmap_read_lock_killable(dst_mm)) {
		put_page(src);
		return -EINTR;
	}
	/* FOLL_WRITE breaks copy-on-write in the target: we fill its private page */
	n = lethe_kp_gup(dst_mm, addr, FOLL_WRITE | FOLL_FORCE, &dst, &locked);
	if (n == 1) {
		copy_highpage(dst, src);
		set_page_dirty_lock(dst);
		put_page(dst);
	}
	if (locked)
		mmap_read_unlock(dst_mm);
	put_page(src);
	return n == 1 ? 0 : n < 0 ? (int)n : -EFAULT;
}

static long lethe_kp_rollback(struct lethe_rollback __user *uarg)
{
	struct task_struct *target = NULL, *twin = NULL;
	struct mm_struct *tmm = NULL, *wmm = NULL;
	struct lethe_rollback arg;
	u64 *addrs = NULL;
	int err = 0;
	u32 i;

	if (copy_from_user(&arg, uarg, sizeof(arg)))
		return -EFAULT;
	if (arg.size < sizeof(arg) || arg.flags || !arg.count || arg.count > LETHE_DEV_MAX_PAGES ||
	    arg.target_pid <= 0 || arg.twin_pid <= 0 || arg.target_pid == arg.twin_pid)
		return -EINVAL;
	addrs = kvmalloc_array(arg.count, sizeof(*addrs), GFP_KERNEL);
	if (!addrs)
		return -ENOMEM;
	if (copy_from_user(addrs, u64_to_user_ptr(arg.addrs), arg.count * sizeof(*addrs))) {
		err = -EFAULT;
		goto out;
	}
	for (i = 0; i < arg.count; i++) {
		if (addrs[i] & ~PAGE_MASK || addrs[i] >= TASK_SIZE_MAX) {
			err = -EINVAL;
			goto out;
		}
	}
	target = lethe_kp_stopped_tracee(arg.target_pid, &err);
	if (!target)
		goto out;
	twin = lethe_kp_stopped_tracee(arg.twin_pid, &err);
	if (!twin)
		goto out;
	tmm = get_task_mm(target);
	wmm = get_task_mm(twin);
	if (!tmm || !wmm || tmm == wmm) {
		err = -EINVAL;
		goto out;
	}
	for (i = 0; i < arg.count && !err; i++) {
		err = lethe_kp_copy_page(tmm, wmm, addrs[i]);
		if (!err)
			arg.done = i + 1;
		if (fatal_signal_pending(current))
			err = -EINTR;
	}
	if (put_user(arg.done, &uarg->done))
		err = err ? err : -EFAULT;
out:
	if (tmm)
		mmput(tmm);
	if (wmm)
		mmput(wmm);
	if (target)
		put_task_struct(target);
	if (twin)
		put_task_struct(twin);
	kvfree(addrs);
	return err;
}

static long lethe_kp_ioctl(struct file *f, unsigned int cmd, unsigned long uarg)
{
	struct lethe_dev_info info;

	switch (cmd) {
	case LETHE_IOC_INFO:
		if (copy_from_user(&info, (void __user *)uarg, sizeof(info)))
			return -EFAULT;
		if (info.size < sizeof(info))
			return -EINVAL;
		info.abi = LETHE_DEV_ABI;
		info.features = LETHE_DEV_F_ROLLBACK;
		info.max_pages = LETHE_DEV_MAX_PAGES;
		info.pad = 0;
		return copy_to_user((void __user *)uarg, &info, sizeof(info)) ? -EFAULT : 0;
	case LETHE_IOC_ROLLBACK:
		return lethe_kp_rollback((struct lethe_rollback __user *)uarg);
	}
	return -ENOTTY;
}

static const struct file_operations lethe_kp_fops = {
	.owner = THIS_MODULE,
	.unlocked_ioctl = lethe_kp_ioctl,
};

static struct miscdevice lethe_kp_dev = {
	.minor = MISC_DYNAMIC_MINOR,
	.name = "lethe",
	.fops = &lethe_kp_fops,
	.mode = 0600,
};

module_misc_device(lethe_kp_dev);
MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("lethe: roll pages of a ptrace-stopped target back from its snapshot twin");
