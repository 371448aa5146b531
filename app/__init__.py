"""lexdora: liability buckets for commercial contracts."""

import logging as _logging
import warnings as _warnings

# bitsandbytes looks for an optional CPU kernel on a model hub at import and warns when it cannot reach
# one; its built-in fallback is what runs here (and the product never reaches a hub), so the warning
# is noise a newcomer would have to learn to ignore. It cannot be avoided by not importing bitsandbytes:
# `import peft` imports it whenever it is installed (peft/helpers.py). That logger says nothing else.
_logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(_logging.ERROR)

# transformers 5 deprecated `is_gradient_checkpointing`; the caller is peft's own PeftModel.__init__
# (`getattr(model, "is_gradient_checkpointing", True)`), not lexdora, so nothing here can act on it.
# Only that message from that module is hidden; drop this once peft reads is_activation_checkpointing.
_warnings.filterwarnings("ignore", message=r"`is_gradient_checkpointing` is deprecated", category=FutureWarning,
                         module=r"transformers\.modeling_utils")
