"""``pipeline report lecture``: the lecture's claims reproduced by small experiments.

- :mod:`~pipeline.lecture.claims`: one function per claim a..k, judging measured evidence
  against a stated criterion (:mod:`~pipeline.lecture.record` holds the Claim record,
  :mod:`~pipeline.lecture.texts` the lecture's quotes);
- :mod:`~pipeline.lecture.lab`: the fixed experiments, each one ``train(cfg)`` run in the
  MLflow experiment ``lecture``, at a :mod:`~pipeline.lecture.scale`, on generated data
  (:mod:`~pipeline.lecture.synthetic` for claim e);
- :mod:`~pipeline.lecture.evidence_lm` and :mod:`~pipeline.lecture.evidence_seq`: each claim's
  runs, :mod:`~pipeline.lecture.measure`\\ ments and :mod:`~pipeline.lecture.figures`;
- :mod:`~pipeline.lecture.runner`: runs the selected claims and writes the report files
  (:mod:`~pipeline.lecture.html`, self-contained, and :mod:`~pipeline.lecture.markdown`).
"""
