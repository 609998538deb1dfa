"""Video creatives: product videos summarised into 6/15/30 s clips, product images animated."""
