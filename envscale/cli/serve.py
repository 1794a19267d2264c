"""`envscale serve MODEL_DIR`: a local model behind the OpenAI chat-completions protocol."""

from __future__ import annotations

import argparse

from envscale.cli.common import EXIT_OK, EXIT_USAGE, error
from envscale.rollout.server import make_server
from envscale.trainer.tiny import tiny_model_path


def run(args: argparse.Namespace) -> int:
    model_dir = str(tiny_model_path()) if args.model == "tiny" else args.model
    try:
        server = make_server(model_dir, args.host, args.port, args.name, args.max_tokens)
    except ImportError:
        error("envscale serve needs torch and transformers: pip install 'envscale[train]'")
        return EXIT_USAGE
    except OSError as problem:
        error(str(problem))
        return EXIT_USAGE
    host, port = server.server_address[:2]
    print(f"serving {model_dir} as '{server.model_name}' on http://{host}:{port}/v1", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return EXIT_OK


def register(commands: argparse._SubParsersAction) -> None:
    p = commands.add_parser(
        "serve",
        help="serve a local model over the OpenAI chat-completions protocol",
        description="Serve a local transformers model (a directory, or 'tiny') on "
        "/v1/chat/completions, tool calls included.",
    )
    p.add_argument(
        "model",
        metavar="MODEL_DIR",
        help="a model directory, or 'tiny' for the built-in tiny model",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000, help="0 picks a free port (default 8000)")
    p.add_argument("--name", help="model name to report (default: the directory name)")
    p.add_argument("--max-tokens", type=int, default=512, help="default max_tokens of a request")
    p.set_defaults(func=run)
