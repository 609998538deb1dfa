"""Image creatives: a product image and copy composed onto declarative templates in milliseconds."""
