"""A plugin whose import fails, as a plugin with a missing dependency would."""

import sidkit_dependency_that_does_not_exist  # noqa: F401
