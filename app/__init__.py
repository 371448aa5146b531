"""lexdora: liability buckets for commercial contracts."""

import logging as _logging

# bitsandbytes looks for an optional CPU kernel on a model hub at import and warns when it cannot reach
# one; its built-in fallback is what runs here (and the product never reaches a hub), so the warning
# is noise a newcomer would have to learn to ignore.
_logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(_logging.ERROR)
