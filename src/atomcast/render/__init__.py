"""Stages 4-5: render a profile's selection into every channel, as SPEC section 5 JSON.

- :mod:`~atomcast.render.campaign`: :class:`Renderer` and :class:`CampaignRenderer`;
- :mod:`~atomcast.render.symbolic`: holes and markers, the symbolic fast path's machinery.
"""

from atomcast.render.campaign import CampaignRenderer, Renderer, RenderResult, render_profile

__all__ = ["CampaignRenderer", "RenderResult", "Renderer", "render_profile"]
