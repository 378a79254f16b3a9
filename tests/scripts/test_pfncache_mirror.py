"""The inline validity check of the snapshot's gfn_to_pfn_cache
(kvm_pmu_snapshot_gpc_valid() in arch/riscv/kvm/vcpu_pmu.c, glue patch 9)
mirrors kvm_gpc_check() of virt/kvm/pfncache.c. Its comment records a hash
of the functions it mirrors; this test fails when they change in the
kernel tree, so that whoever moves the series to another kernel re-reads
them and updates the mirror and the hash.
"""
import hashlib
import os
import re
import unittest

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TREE = os.path.join(os.environ.get("BUILD", os.path.join(TOP, "build")), "linux")
PFNCACHE = os.path.join(TREE, "virt", "kvm", "pfncache.c")
MIRROR = os.path.join(TREE, "arch", "riscv", "kvm", "vcpu_pmu.c")
# The functions whose conditions the mirror copies.
MIRRORED = ("kvm_gpc_is_valid_len", "kvm_gpc_check")


def function_text(source, name):
    """The definition of function @name in C @source, from its name to the
    closing brace in column 0."""
    m = re.search(r"^[\w \t*]*\b" + name + r"\(.*?^\}$", source, re.M | re.S)
    if not m:
        raise LookupError(f"{name}() not found")
    return m.group(0)


def conditions_hash(source):
    """sha256 of the mirrored functions, comments and white space left out."""
    text = "".join(function_text(source, n) for n in MIRRORED)
    text = re.sub(r"/\*.*?\*/|//[^\n]*", "", text, flags=re.S)
    return hashlib.sha256(re.sub(r"\s+", "", text).encode()).hexdigest()


def read(path):
    with open(path) as f:
        return f.read()


def recorded_hash(mirror_source):
    m = re.search(r"pfncache sha256[\s*]+([0-9a-f]{64})", mirror_source)
    if not m:
        raise LookupError("no 'pfncache sha256 <hash>' in the mirror's comment")
    return m.group(1)


class PfncacheMirrorTest(unittest.TestCase):
    def test_kernel_pfncache_unchanged(self):
        if not os.path.exists(MIRROR):
            self.fail(f"{MIRROR} missing: run `make prepare` first")
        self.assertEqual(conditions_hash(read(PFNCACHE)),
                         recorded_hash(read(MIRROR)),
                         "kvm_gpc_check() changed: re-check kvm_pmu_snapshot_gpc_valid() "
                         "against it, then record the new hash in its comment")

    def test_new_condition_is_caught(self):
        source = read(PFNCACHE)
        changed = source.replace("\tif (!gpc->valid)\n", "\tif (!gpc->valid || gpc->busy)\n", 1)
        self.assertNotEqual(changed, source)
        self.assertNotEqual(conditions_hash(changed), conditions_hash(source))

    def test_comments_and_layout_do_not_count(self):
        source = read(PFNCACHE)
        changed = source.replace("\tif (!gpc->active)\n", "\t/* note */\n\tif (!gpc->active )\n", 1)
        self.assertNotEqual(changed, source)
        self.assertEqual(conditions_hash(changed), conditions_hash(source))


if __name__ == "__main__":
    unittest.main()
