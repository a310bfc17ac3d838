"""Build the optional C accelerator; datason falls back to pure Python when it cannot be compiled."""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "datason._speedups",
            sources=["src/datason/_speedups.c"],
            depends=["src/datason/_ryu_tables.h", "src/datason/_schubfach.h", "src/datason/_schubfach_tables.h"],
            optional=True,
            extra_compile_args=["-O2"],
        )
    ]
)
