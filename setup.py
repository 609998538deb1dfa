"""Build hook: generate the Python gRPC/protobuf stubs from protos/ into services/creativeloop/v1/.

The stubs are build outputs (git-ignored), so every install, editable or not, regenerates them
from the one contract in protos/creativeloop/v1. Nothing generated is ever edited by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from setuptools import Command, setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

ROOT = Path(__file__).resolve().parent
PROTO_ROOT = ROOT / "protos"
OUT_ROOT = ROOT / "services" / "creativeloop" / "v1"


def generate_stubs() -> None:
    """Run protoc (from grpcio-tools) over every .proto in protos/creativeloop/v1."""
    import grpc_tools
    from grpc_tools import protoc

    staging = ROOT / "build" / "protogen"
    staging.mkdir(parents=True, exist_ok=True)
    protos = sorted(
        str(p.relative_to(PROTO_ROOT)) for p in (PROTO_ROOT / "creativeloop" / "v1").glob("*.proto")
    )
    well_known = Path(grpc_tools.__file__).parent / "_proto"
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_ROOT}",
        f"-I{well_known}",
        f"--python_out={staging}",
        f"--pyi_out={staging}",
        f"--grpc_python_out={staging}",
        *protos,
    ]
    if protoc.main(args) != 0:
        raise RuntimeError(f"protoc failed: {' '.join(args)}")
    # protoc writes creativeloop/v1/*.py under the staging folder; copy them into the package.
    OUT_ROOT.mkdir(parents=True, exist_ok=True)
    for generated in (staging / "creativeloop" / "v1").iterdir():
        (OUT_ROOT / generated.name).write_bytes(generated.read_bytes())


class GenerateStubs(Command):
    """`python setup.py protogen`: regenerate the stubs in place."""

    description = "generate gRPC/protobuf stubs from protos/"
    user_options: ClassVar[list[tuple[str, str | None, str]]] = []

    def initialize_options(self) -> None:
        pass

    def finalize_options(self) -> None:
        pass

    def run(self) -> None:
        generate_stubs()


class BuildPyWithStubs(build_py):
    def run(self) -> None:
        generate_stubs()
        super().run()


class EditableWheelWithStubs(editable_wheel):
    def run(self) -> None:
        generate_stubs()
        super().run()


setup(
    cmdclass={
        "protogen": GenerateStubs,
        "build_py": BuildPyWithStubs,
        "editable_wheel": EditableWheelWithStubs,
    }
)
