"""Stages 4-5: render a profile's selection into every channel, as SPEC section 5 JSON.

- :mod:`~atomcast.render.campaign`: :class:`Renderer` and :class:`CampaignRenderer`, the
  plain renderer (each channel's phases) and the orchestration;
- :mod:`~atomcast.render.memo` and :mod:`~atomcast.render.holes`: the two fast layers, which
  only call the plain phases;
- :mod:`~atomcast.render.symbolic`: holes and markers, the symbolic layer's machinery;
- :mod:`~atomcast.render.cache`: the bounded, clearable memos of one campaign renderer.
"""

from atomcast.render.campaign import CampaignRenderer, Renderer, RenderResult, render_profile

__all__ = ["CampaignRenderer", "RenderResult", "Renderer", "render_profile"]
