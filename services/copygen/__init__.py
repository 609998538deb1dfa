"""Ad copy generation: ranked, explained copy candidates from a content profile.

The skeleton writes copy from templates (`copywriter`); a learned generator joins later behind
the same `GenerateCopy` contract (candidates carry their `generator`).
"""
