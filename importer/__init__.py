"""importer: a file-drop importer for retail data feeds."""

import os

__version__ = "0.1.0"

# Polars' allocator (jemalloc) keeps the pages a thread frees for that thread's arena, and makes
# four arenas per CPU. One per CPU loads as fast and peaks ~50 MB lower on a million-row file.
# Polars adds this to its own allocator settings when it is first imported, so it is set first.
os.environ.setdefault("_RJEM_MALLOC_CONF", f"narenas:{os.cpu_count() or 1}")
# Polars' thread pool gets half the CPUs: the workers, the next batch's reader and the database
# use the others. On two cores one Polars thread made a small file 10 % cheaper and no million-row
# load slower; Polars' own default, a thread per CPU, made them compete. An operator's setting wins.
os.environ.setdefault("POLARS_MAX_THREADS", str(max(1, (os.cpu_count() or 1) // 2)))
