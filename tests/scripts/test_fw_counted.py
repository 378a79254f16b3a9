"""The firmware events that event_get_info reports as supported
(KVM_COUNTED_FW in rust/arch/riscv/kvm/pmu_snapshot/event_info.rs) are
exactly those KVM counts: the events passed to kvm_riscv_vcpu_pmu_incr_fw()
anywhere in arch/riscv/kvm of the prepared tree.
"""
import os
import re
import unittest

TOP = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
TREE = os.path.join(os.environ.get("BUILD", os.path.join(TOP, "build")), "linux")
RUST = os.path.join(TOP, "rust", "arch", "riscv", "kvm", "pmu_snapshot", "event_info.rs")


def read(path):
    with open(path) as f:
        return f.read()


def fw_codes(sbi_h):
    """{SBI_PMU_FW_NAME: code} from the enum in asm/sbi.h."""
    return {m.group(1): int(m.group(2))
            for m in re.finditer(r"^\s*(SBI_PMU_FW_\w+)\s*=\s*(\d+),", sbi_h, re.M)}


def incr_fw_codes(source, codes):
    """The codes of the events C @source passes to kvm_riscv_vcpu_pmu_incr_fw()."""
    return {codes[m.group(1)] for m in re.finditer(
        r"kvm_riscv_vcpu_pmu_incr_fw\(\s*\w+,\s*(SBI_PMU_FW_\w+)\)", source)}


def counted(kvm_dir, codes):
    """The codes of the events KVM counts: every .c file of @kvm_dir."""
    found = set()
    for name in os.listdir(kvm_dir):
        if name.endswith(".c"):
            found |= incr_fw_codes(read(os.path.join(kvm_dir, name)), codes)
    return found


def rust_list(source):
    m = re.search(r"const KVM_COUNTED_FW: u32 =\s*([^;]+);", source)
    if not m:
        raise LookupError("no KVM_COUNTED_FW in event_info.rs")
    return {int(n) for n in re.findall(r"1 << (\d+)", m.group(1))}


class FwCountedTest(unittest.TestCase):
    def test_rust_list_is_what_kvm_counts(self):
        codes = fw_codes(read(os.path.join(TREE, "arch", "riscv", "include", "asm", "sbi.h")))
        kvm = counted(os.path.join(TREE, "arch", "riscv", "kvm"), codes)
        self.assertGreater(len(kvm), 3)
        self.assertEqual(rust_list(read(RUST)), kvm)

    def test_a_new_call_is_caught(self):
        """A call the Rust list lacks makes the sets differ."""
        codes = fw_codes("\tSBI_PMU_FW_ILLEGAL_INSN\t\t= 4,\n\tSBI_PMU_FW_SET_TIMER\t\t= 5,\n")
        source = ("kvm_riscv_vcpu_pmu_incr_fw(vcpu, SBI_PMU_FW_SET_TIMER);\n"
                  "kvm_riscv_vcpu_pmu_incr_fw(tmp, SBI_PMU_FW_ILLEGAL_INSN);\n")
        self.assertEqual(incr_fw_codes(source, codes), {4, 5})
        self.assertNotEqual(rust_list("const KVM_COUNTED_FW: u32 = 1 << 5;"),
                            incr_fw_codes(source, codes))

if __name__ == "__main__":
    unittest.main()
