"""The project's one vocabulary of text: sentences, ``[n]`` markers, words and stems.

Low in the layers (beside :mod:`qa.types`), so the chunker, the keyword index
and the answer chain cut sentences, read markers and stem words alike:
:mod:`qa.text.sentences`, :mod:`qa.text.markers`, :mod:`qa.text.words`.
"""
