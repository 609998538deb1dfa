"""Independent test sets for content understanding and shot segmentation (issue 16).

Written apart from the algorithms: the author read only the public entry points' signatures
(``locate_product``/``ProductBox``, ``SceneClass``, the aesthetic scorer's names,
``OcrPipeline.read``/``OcrLine``, ``ShotDetector``/``DetectedBoundary``), never their code, their
tuning data, the project's own set builders (``datasets/{cutouts,scenes,ad_text,photos,garments,
synthetic_video}.py``, ``training/``) or docs/quality.md, and never ran the algorithms on these
sets. Keep it that way: **do not tune on these sets**; report them next to the tuning data.

=================  ======================================================================  =====
module             what                                                                    cases
=================  ======================================================================  =====
`product_boxes`    composites with the main product's exact mask and box; text, badges,     96
                   shadows, props, busy/patterned grounds, off-centre and cropped products
`scenes`           6 classes x 24, real photos and film frames where they exist             144
`aesthetics`       20 real photos x 8 degradations x 5 levels, built lazily                 800
`ocr`              ad images with every line's text, box, quad and reading order;            96
                   24 multi-column
`shots`            192x108 clips with cuts, fades, dissolves, flashes, whip pans, captions    20
=================  ======================================================================  =====

Everything is generated from code and media that install offline (opencv-doc samples,
scikit-image and scikit-learn images, the clips in var/data/videos, system fonts) with fixed
seeds; nothing large is committed. ``labels/*.jsonl`` holds each case's labels and the SHA-1 of
its pixels as built here, so a scorer can read the ground truth without building and can check
it scores the same pixels:

    creativeloop data test-sets export OUT_DIR   # images, masks, MP4s + labels
    creativeloop data test-sets check            # rebuild, compare with labels/
    creativeloop data test-sets labels           # rewrite labels/ (after a change)

Each module's docstring says how its set was made, its counts, and what a fair scorer must know.
"""

from __future__ import annotations

SETS: tuple[str, ...] = ("product_boxes", "scenes", "aesthetics", "ocr", "shots")
