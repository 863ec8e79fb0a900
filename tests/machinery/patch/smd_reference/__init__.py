"""A frozen copy of the structured-merge-diff engines as first written (commit b1d6c76), before the
managedFields fast paths.

Why: the optimized engines in ``kybernetes.machinery.patch`` must behave exactly like these plain,
easy-to-check implementations; the equivalence tests run both on the same (random) inputs.  Only the
imports of the shared schema navigator and error types were changed.  Do not optimize this copy.
"""
