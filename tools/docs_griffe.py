"""A griffe extension for the documentation site.

Undocumented attributes are left out of the reference: they are the state a
constructor keeps (``self.window = check_number(...)``), whose assignment
line says nothing to a reader; the constructor's signature already lists the
parameters. Undocumented methods and properties stay, since their gensim
names and signatures are the documentation.

reStructuredText habits: a few docstrings name things the Sphinx way
(:func:`load_into_hf_model`, :class:`Cooccurrence`) or end a line with "::"
before an indented block; mkdocstrings reads docstrings as Markdown, where
both would show up literally. The role is dropped and the name kept as code,
and "::" becomes ":" (the indented block is a code block in Markdown too), so
the library's docstrings need not change for the site.
"""
from __future__ import annotations

import re

import griffe

_ROLE = re.compile(r":(?:py:)?(?:func|class|meth|attr|mod|data|exc|obj):`~?([^`]+)`")
_LITERAL_BLOCK = re.compile(r"(?<=\S)::$", re.MULTILINE)


class SiteDocstrings(griffe.Extension):
    def on_instance(self, *, obj, **kwargs) -> None:
        if obj.docstring is not None and ":" in obj.docstring.value:
            text = _ROLE.sub(r"`\1`", obj.docstring.value)
            obj.docstring.value = _LITERAL_BLOCK.sub(":", text)

    def on_class_members(self, *, cls, **kwargs) -> None:
        for name, member in list(cls.members.items()):
            if (not member.is_alias and member.is_attribute and member.docstring is None
                    and "property" not in member.labels):
                cls.del_member(name)
