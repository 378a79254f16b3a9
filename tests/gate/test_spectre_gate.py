"""Unit tests of scripts/spectre_gate.py over llvm-objdump fixtures.

Run with:  python3 -m unittest discover -s tests/gate
The fixtures in fixtures/ are llvm-objdump -d --no-show-raw-insn listings;
rust_*_real.s were cut from build/kernel-rust/vmlinux, the others are
synthetic.  No vmlinux or LLVM tool is needed.
"""

import io
import os
import sys
import unittest
from contextlib import redirect_stderr

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "scripts"))

import spectre_gate as gate  # noqa: E402


def fixture(name):
    """Text of fixtures/<name>."""
    with open(os.path.join(HERE, "fixtures", name), encoding="utf-8") as f:
        return f.read()


def run(name, roots=None, taint=None):
    """Analyze a fixture; returns (analyzer, {func: {addr: Violation}})."""
    entry = dict(gate.ENTRY_TAINT)
    entry.update(taint or {})
    an = gate.analyze_text(fixture(name), roots, entry)
    return an, an.violations


def low(addrs):
    """Low 16 bits of addresses, to keep expectations readable."""
    return sorted(a & 0xffff for a in addrs)


class ParseTest(unittest.TestCase):
    """Listing parsing and CFG construction."""

    def test_parse_real_listing(self):
        insns, labels = gate.parse_listing(fixture("rust_fw_ctr_read_real.s"))
        self.assertEqual(labels, [(0xffffffff80022d50,
                                   "kvm_riscv_vcpu_pmu_fw_ctr_read")])
        self.assertEqual(len(insns), 42)
        first = insns[0]
        self.assertEqual((first.mnem, first.ops), ("addi", ("sp", "sp",
                                                            "-0x10")))
        bgeu = [i for i in insns if i.mnem == "bgeu"][0]
        self.assertEqual(gate.branch_target(bgeu), 0xffffffff80022d92)

    def test_cfg_blocks(self):
        funcs = gate.split_functions(fixture("rust_fw_ctr_read_real.s"))
        func = funcs["kvm_riscv_vcpu_pmu_fw_ctr_read"]
        cfg = gate.build_cfg(func)
        ret_blocks = [b for b in cfg.values()
                      if func.insns[b.last].mnem == "ret"]
        self.assertEqual(len(ret_blocks), 1)
        self.assertEqual(ret_blocks[0].succs, [])
        # the bgeu block has the error path and the fall-through
        bgeu = [b for b in cfg.values() if func.insns[b.last].mnem == "bgeu"]
        self.assertEqual(len(bgeu), 2)
        for blk in cfg.values():
            for s in blk.succs:
                self.assertIn(s, cfg)

    def test_local_labels_do_not_split(self):
        text = fixture("jump_table.s").replace(
            "ffffffff80160010:", "ffffffff80160010 <.Lpcrel_hi9>:\n"
            "ffffffff80160010:")
        self.assertIn("<.Lpcrel_hi9>:", text)
        self.assertEqual(list(gate.split_functions(text)), ["sbi_dispatch"])

    def test_jump_table_targets_reachable(self):
        func = gate.split_functions(fixture("jump_table.s"))["sbi_dispatch"]
        cfg = gate.build_cfg(func)
        jr = [b for b in cfg.values() if func.insns[b.last].mnem == "jr"][0]
        self.assertTrue(jr.succs)


class RealGadgetTest(unittest.TestCase):
    """The real Rust fw_ctr_read and its fixed counterparts."""

    def test_real_fw_ctr_read_flagged(self):
        an, viols = run("rust_fw_ctr_read_real.s")
        v = viols["kvm_riscv_vcpu_pmu_fw_ctr_read"]
        # pmc[a1] (counter word and event_idx) and fw_event[code]
        self.assertEqual(low(v), [0x2d8a, 0x2da0, 0x2db8])
        pmc = v[0xffffffff80022d8a]
        self.assertEqual(pmc.base, "a1")
        kinds = {o.kind for o in pmc.origins}
        self.assertEqual(kinds, {"arg", "check"})
        fw = v[0xffffffff80022db8]
        self.assertIn("load", {o.kind for o in fw.origins})
        chain = gate.describe(an, [o for o in fw.origins
                                   if o.kind == "load"][0])
        self.assertIn("lhu", chain)
        self.assertIn("entry argument a1", chain)

    def test_real_fw_ctr_read_report_line(self):
        an, _ = run("rust_fw_ctr_read_real.s")
        (name, viols), = gate.results(an)
        line = gate.format_line(name, viols)
        self.assertTrue(line.startswith(
            "FAIL kvm_riscv_vcpu_pmu_fw_ctr_read  (3 guest-index"))
        self.assertIn("ffffffff80022db8 ld\ta0, 0x5e8(a0) <-", line)

    def test_masked_fw_ctr_read_passes(self):
        _, viols = run("fw_ctr_read_masked.s")
        self.assertEqual(viols["kvm_riscv_vcpu_pmu_fw_ctr_read"], {})

    def test_real_ctr_info_with_index_nospec_passes(self):
        _, viols = run("rust_ctr_info_real.s")
        self.assertEqual(viols["kvm_riscv_vcpu_pmu_ctr_info"], {})


class ShapeTest(unittest.TestCase):
    """Taint sources, sanitizer shapes and non-gadgets."""

    def test_bounded_loop_flagged_masked_loop_passes(self):
        _, viols = run("loop_bounded.s")
        self.assertEqual(low(viols["loop_unmasked"]), [0x0014])
        origins = viols["loop_unmasked"][0xffffffff80110014].origins
        self.assertEqual({o.kind for o in origins}, {"check"})
        self.assertEqual(viols["loop_masked"], {})

    def test_check_of_a_narrowed_copy(self):
        _, viols = run("derived_copy.s")
        self.assertEqual(low(viols["check_copy_use_original"]), [0x0020])
        self.assertEqual(low(viols["check_original_use_copy"]), [0x0044])
        self.assertEqual(viols["copy_broken_by_redefinition"], {})

    def test_null_check_not_flagged(self):
        _, viols = run("null_check.s")
        self.assertEqual(viols["null_check_load"], {})
        self.assertEqual(viols["kvm_riscv_vcpu_pmu_ctr_info"], {})

    def test_mask_shapes(self):
        _, viols = run("mask_shapes.s")
        for good in ("shape_c_not_srai", "shape_rust_srli_addi",
                     "shape_sltu_neg", "shape_czero", "shape_andi"):
            self.assertEqual(viols[good], {}, good)
        for bad in ("shape_bad_shift", "shape_bad_and", "shape_amo"):
            self.assertEqual(len(viols[bad]), 1, bad)

    def test_jump_table(self):
        an, viols = run("jump_table.s")
        v = viols["sbi_dispatch"]
        self.assertEqual(low(v), [0x001c, 0x0038])
        self.assertTrue(v[0xffffffff8016001c].jump_table)
        self.assertFalse(v[0xffffffff80160038].jump_table)
        (_, kept), = gate.results(an, allow_jump_tables=True)
        self.assertEqual([k["addr"] for k in kept], ["ffffffff80160038"])


class CallTest(unittest.TestCase):
    """Calls clobber caller-saved registers; callees inherit taint."""

    def test_call_clobbers_a_registers(self):
        _, viols = run("call_clobber.s")
        self.assertEqual(viols["kvm_riscv_vcpu_pmu_fw_ctr_read_hi"], {})
        self.assertEqual(viols["ext_helper"], {})

    def test_callee_saved_survives_call(self):
        _, viols = run("call_clobber.s")
        self.assertEqual(low(viols["kvm_riscv_vcpu_pmu_ctr_stop"]),
                         [0x0060])

    def test_index_passed_to_callee(self):
        an, viols = run("callee.s")
        self.assertEqual(viols["kvm_riscv_vcpu_pmu_ctr_info"], {})
        v = viols["pmu_idx_load"]
        self.assertEqual(low(v), [0x002c])
        origin, = v[0xffffffff8014002c].origins
        self.assertEqual(origin.kind, "param")
        chain = gate.describe(an, origin)
        self.assertIn("a1 passed by kvm_riscv_vcpu_pmu_ctr_info", chain)
        self.assertIn("<- entry argument a1", chain)
        site = an.call_args[("kvm_riscv_vcpu_pmu_ctr_info",
                             0xffffffff8014000c)]["a1"]
        self.assertEqual({o.kind for o in site}, {"arg", "check"})

    def test_tail_calls(self):
        _, viols = run("callee.s")
        self.assertEqual(low(viols["pmu_idx_tail"]), [0x0048])
        self.assertEqual(low(viols["pmu_idx_load2"]), [0x006c])

    def test_callee_alone_is_clean(self):
        _, viols = run("callee.s", roots=["pmu_idx_load"])
        self.assertEqual(viols["pmu_idx_load"], {})


class CliTest(unittest.TestCase):
    """Selection helpers and error handling of the command line."""

    def test_missing_vmlinux_is_usage_error(self):
        with redirect_stderr(io.StringIO()):
            code = gate.main(["--vmlinux", "/nonexistent/vmlinux",
                              "--objdir", "/nonexistent"])
        self.assertEqual(code, 2)

    def test_missing_arguments(self):
        with redirect_stderr(io.StringIO()):
            self.assertEqual(gate.main([]), 2)

    def test_missing_entry_point_is_error(self):
        ranges = {n: (0, 4) for n in gate.ENTRY_TAINT}
        defined = set(ranges)
        gate.check_entries(defined, ranges)
        # an SBI entry point missing from vmlinux, defined or not
        del ranges["kvm_riscv_vcpu_pmu_fw_ctr_read"]
        with self.assertRaises(gate.GateError):
            gate.check_entries(defined, ranges)
        with self.assertRaises(gate.GateError):
            gate.check_entries(defined - {"kvm_riscv_vcpu_pmu_fw_ctr_read"},
                               ranges)
        ranges["kvm_riscv_vcpu_pmu_fw_ctr_read"] = (0, 4)
        # the optional helper: an error only if an object defines it
        helper = "kvm_riscv_pmu_rs_counter_mask_valid"
        del ranges[helper]
        with self.assertRaises(gate.GateError):
            gate.check_entries(defined, ranges)
        gate.check_entries(defined - {helper}, ranges)

    def test_duplicate_static_picks_object_region(self):
        cands = [(0xffffffff80500000, 8), (0xffffffff8001d100, 8)]
        chosen = gate.choose_copies(cands, 0xffffffff8001c000,
                                    0xffffffff8001e000)
        self.assertEqual(chosen, [(0xffffffff8001d100, 8)])
        far = gate.choose_copies(cands, 0xffffffff80600000,
                                 0xffffffff80600100)
        self.assertEqual(far, [(0xffffffff80500000, 8)])

    def test_test_code_pattern(self):
        self.assertTrue(gate.TEST_CODE.search(
            "_RNvNtCshUuuf84ebGr_12pmu_snapshot5tests11area_layout"))
        self.assertTrue(gate.TEST_CODE.search("kvm_pmu_snapshot_test_run"))
        self.assertFalse(gate.TEST_CODE.search(
            "kvm_riscv_vcpu_pmu_fw_ctr_read"))


if __name__ == "__main__":
    unittest.main()
