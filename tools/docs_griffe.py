"""A griffe extension for the documentation site: Sphinx roles in docstrings.

A few docstrings name things the Sphinx way (:func:`load_into_hf_model`,
:class:`Cooccurrence`); mkdocstrings reads docstrings as Markdown, where the
role would show up literally. The role is dropped and the name kept as code,
so the library's docstrings need not change for the site.
"""
from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|data|exc|obj):`~?([^`]+)`")


class SphinxRoles(griffe.Extension):
    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None and ":" in obj.docstring.value:
            obj.docstring.value = _ROLE.sub(r"`\1`", obj.docstring.value)
