"""The field-guide chatbot: answers about the 100 species, quoted from the guide with citations.

Public entry points:

- ``butterflyer.chat.guide.load_guide()`` -> :class:`~butterflyer.chat.schema.FieldGuide` (cached);
  ``taxonomy(label)`` -> ``(genus, family)``; ``guide_problems()`` lists gaps in the guide.
- ``butterflyer.chat.answer.default_engine().ask(message, species_id=None, history=None)``
  -> :class:`~butterflyer.chat.reply.ChatReply` (``answer``, numbered ``citations``, ``species_id``,
  ``status``: answered / not_covered / off_topic).
- ``butterflyer.chat.evaluate.run_eval()`` -> metrics dict, and a Markdown + JSON report.

Pipeline: guide YAML -> chunks (entry x section, sentences are citation units) -> MiniLM
embeddings in a LanceDB table under ``cache/chat-index`` + BM25 -> species linking and intent
-> reciprocal-rank fusion -> sentence selection with a support check -> answer (optionally
phrased by an OpenAI-compatible LLM that may only keep cited sentences).
"""
