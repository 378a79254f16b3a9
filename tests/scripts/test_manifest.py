"""Unit tests of glue/manifest checking (scripts/patches.py).

Each case builds a small project in a temporary directory (Kconfig, two
glue patches, a few project files, a manifest) and points patches.py at it.
"""
import contextlib
import io
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                "scripts"))
import patches  # noqa: E402

KCONFIG = "# header\n\nconfig FOO\n\tbool \"foo\"\n\nconfig BAR\n\tbool \"bar\"\n"
FILES = {
    "rust/arch/riscv/kvm/foo.rs": "// foo\n",
    "tests/kunit/foo_kunit.c": "// kunit\n",
    "tests/selftests/riscv/foo_test.c": "// selftest\n",
}
GOOD = """# comment
1 Kconfig                            arch/riscv/kvm/Kconfig.rust
1 Kconfig:FOO
2 Kconfig:BAR
1 rust/arch/riscv/kvm/foo.rs         arch/riscv/kvm/foo.rs
2 tests/kunit/foo_kunit.c            arch/riscv/kvm/foo_kunit.c
2 tests/selftests/riscv/foo_test.c   tools/testing/selftests/kvm/riscv/foo_test.c
"""


class ManifestTest(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.TemporaryDirectory()
        self.top = self.tmp.name
        self.write("Kconfig", KCONFIG)
        for path, text in FILES.items():
            self.write(path, text)
        for name in ("0001-first.patch", "0002-second.patch"):
            self.write(os.path.join("glue", name), "")
        self.saved = patches.TOP, patches.MANIFEST
        patches.TOP = self.top
        patches.MANIFEST = os.path.join(self.top, "glue", "manifest")

    def tearDown(self):
        patches.TOP, patches.MANIFEST = self.saved
        self.tmp.cleanup()

    def write(self, path, text):
        full = os.path.join(self.top, path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        with open(full, "w") as f:
            f.write(text)

    def refused(self, manifest):
        """Runs the check on @manifest; returns its error message, or None."""
        self.write("glue/manifest", manifest)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            try:
                patches.assignments()
            except SystemExit:
                return err.getvalue()
        return None

    def test_complete_manifest_passes(self):
        self.assertIsNone(self.refused(GOOD))
        self.assertEqual(patches.tree_path("tests/kunit/foo_kunit.c"),
                         "arch/riscv/kvm/foo_kunit.c")
        self.assertEqual(patches.assignments()[2],
                         ["Kconfig:BAR", "tests/kunit/foo_kunit.c",
                          "tests/selftests/riscv/foo_test.c"])

    def test_new_file_without_a_line(self):
        self.write("rust/arch/riscv/kvm/foo/new.rs", "// new\n")
        self.assertIn("rust/arch/riscv/kvm/foo/new.rs", self.refused(GOOD))

    def test_line_for_a_missing_file(self):
        msg = self.refused(GOOD + "2 rust/arch/riscv/kvm/gone.rs arch/riscv/kvm/gone.rs\n")
        self.assertIn("rust/arch/riscv/kvm/gone.rs", msg)

    def test_kconfig_option_without_a_line(self):
        self.assertIn("BAR", self.refused(GOOD.replace("2 Kconfig:BAR\n", "")))

    def test_unknown_kconfig_option(self):
        self.assertIn("BAZ", self.refused(GOOD + "2 Kconfig:BAZ\n"))

    def test_patch_outside_the_series(self):
        self.assertIn("1-2", self.refused(GOOD.replace("2 Kconfig:BAR", "3 Kconfig:BAR")))

    def test_file_named_twice(self):
        msg = self.refused(GOOD + "1 tests/kunit/foo_kunit.c arch/riscv/kvm/x.c\n")
        self.assertIn("more than once", msg)

    def test_file_line_without_kernel_path(self):
        self.assertIn("bad line", self.refused(GOOD + "1 tests/kunit/foo_kunit.c\n"))

    def test_series_numbering_has_no_gaps(self):
        os.rename(os.path.join(self.top, "glue", "0002-second.patch"),
                  os.path.join(self.top, "glue", "0003-second.patch"))
        self.assertIn("without gaps", self.refused(GOOD))

    def test_this_repository_manifest(self):
        """The repository's own manifest is complete (what prepare checks)."""
        patches.TOP, patches.MANIFEST = self.saved
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            adds = patches.assignments()
        self.assertEqual(sum(len(v) for v in adds.values()), len(patches.manifest()))


if __name__ == "__main__":
    unittest.main()
