"""Running CreativeLoop locally: the Tansu broker, every service as a process, a local Triton.

What `creativeloop up`, the demo and the integration tests start; deployments use the Helm
chart instead.
"""
