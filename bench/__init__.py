"""termvault's benchmark harness: a seeded synthetic corpus (``bench.corpus``), the
anchors termvault is compared against (``bench.anchors``) and the results format
(``bench.results``). Run ``python -m bench --help``."""
