"""``pipeline report lecture``: the lecture's claims reproduced by small experiments.

- :mod:`~pipeline.lecture.claims`: one function per claim a..k, judging measured evidence
  against a stated criterion (:mod:`~pipeline.lecture.record` holds the Claim record);
- :mod:`~pipeline.lecture.lab`: the fixed experiments, each one ``train(cfg)`` run in the
  MLflow experiment ``lecture``, at a :mod:`~pipeline.lecture.scale`;
- :mod:`~pipeline.lecture.runner`: runs a claim's experiments, measures, draws and judges;
- :mod:`~pipeline.lecture.html` and :mod:`~pipeline.lecture.markdown`: the report files.
"""
