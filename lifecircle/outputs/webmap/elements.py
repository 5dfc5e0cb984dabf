"""The two folium elements the map is built from: a script block and a JavaScript layer."""

from __future__ import annotations

from collections.abc import Sequence

from branca.element import MacroElement
from folium.elements import JSCSSMixin
from folium.map import Layer
from folium.template import Template


class _Script(MacroElement):
    """JavaScript for the map's script block, built only from escaped or generated parts."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
        {{ this.js }}
        {% endmacro %}
        """
    )

    def __init__(self, js: str) -> None:
        super().__init__()
        self._name = "lifecircle_js"
        self.js = js


class _JsLayer(JSCSSMixin, Layer):
    """A Leaflet layer given by a JavaScript expression, listed in the layer control."""

    _template = Template(
        """
        {% macro script(this, kwargs) %}
            var {{ this.get_name() }} = {{ this.js }};
        {% endmacro %}
        """
    )

    def __init__(
        self,
        js: str,
        *,
        name: str,
        overlay: bool,
        show: bool,
        js_links: Sequence[tuple[str, str]] = (),
        css_links: Sequence[tuple[str, str]] = (),
    ) -> None:
        super().__init__(name=name, overlay=overlay, control=True, show=show)
        self._name = "lifecircle_layer"
        self.js = js
        self.default_js = list(js_links)
        self.default_css = list(css_links)
