"""`serve`: a VLA checkpoint of this tool as a policy server (openpi's websocket protocol)."""

from __future__ import annotations

from pathlib import Path

import typer

from diffrl_eval.cli.data import device_option
from diffrl_eval.errors import Interrupted, UserError


def serve(
    ckpt: Path = typer.Option(..., "--ckpt", help="Checkpoint directory (one seed) to serve."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface; the server has no authentication)."),
    port: int = typer.Option(8000, "--port", help="Port to listen on (0: any free port, printed)."),
    policy_keys: str = typer.Option(None, "--policy-keys", help="NAME=WIRE_KEY pairs or a .toml file, as for `vla eval --policy-keys` (default: openpi/LeRobot names)."),
    vla: str = typer.Option(None, "--vla", help="VLA that reads --ckpt (default: the one its checkpoint.json names); needed for a model trained elsewhere."),
    device: str = device_option(),
) -> None:
    """Serve a VLA checkpoint over openpi's websocket policy protocol: `vla eval
    --policy-server`, openpi's WebsocketClientPolicy or any client speaking it asks for
    action chunks. Runs until Ctrl-C."""
    from diffrl_eval.device import resolve_device
    from diffrl_eval.policy_server.keys import parse_key_mapping
    from diffrl_eval.policy_server.server import PolicyServer

    if not 0 <= port < 65536:
        raise UserError(f"--port must be in 0..65535, got {port}")
    torch_device = resolve_device(device)
    if vla is not None:
        from diffrl_eval import registry

        registry.vlas.entry(vla)  # an unknown name is a one-line error listing the names
    server = PolicyServer(ckpt, host=host, port=port, keys=parse_key_mapping(policy_keys),
                          vla=vla, device=torch_device)
    meta = server.metadata
    print(f"serving {meta['vla']} checkpoint {ckpt} at {server.uri} "
          f"(chunks {meta['action_horizon']}x{meta['action_dim']}, reads "
          f"{', '.join(meta['observation_keys'])} and {meta['prompt_key']!r}); Ctrl-C stops",
          flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, Interrupted):
        from diffrl_eval import interrupts

        interrupts.acknowledge()  # the way to stop a server: not an interrupted command
        print("stopped", flush=True)
    finally:
        server.shutdown()


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
