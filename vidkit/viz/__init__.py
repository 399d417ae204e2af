"""Display code: frames, strips, flow and attention overlays, GIF/MP4 export (:mod:`vidkit.viz.frames`),
notebook widgets (:mod:`vidkit.viz.widgets`) and the neighbour browser (:mod:`vidkit.viz.browser`)."""
