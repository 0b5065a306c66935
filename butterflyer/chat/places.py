"""Where a described butterfly was seen: place names mapped onto the regions of :mod:`measure`.

A description ("small orange butterfly in my Virginia yard") names a state, county, country or city
far more often than a continent. This gazetteer maps such names onto the regions whose range words
the guide uses, so a species whose range lies elsewhere is less likely. It is used for descriptions
only: names such as "Essex skipper" or "Queen of Spain fritillary" make place words part of species
names, so the name finder keeps its own, shorter list.
"""

from __future__ import annotations

from butterflyer.chat.measure import ALIASES

_NORTH_AMERICA = """
alabama, alaska, arizona, arkansas, colorado, connecticut, delaware, georgia, hawaii, idaho,
illinois, indiana, iowa, kansas, kentucky, louisiana, maine, maryland, massachusetts, michigan,
minnesota, mississippi, missouri, montana, nebraska, nevada, new hampshire, new jersey, new mexico,
new york, north carolina, north dakota, oklahoma, oregon, pennsylvania, rhode island,
south carolina, south dakota, tennessee, utah, vermont, virginia, washington, west virginia,
wisconsin, wyoming, ontario, quebec, alberta, manitoba, saskatchewan, nova scotia, new brunswick,
british columbia, newfoundland, miami, chicago, boston, atlanta, houston, dallas, austin, seattle,
denver, phoenix, toronto, montreal, vancouver, new england, appalachians, rockies, midwest
"""
_BRITAIN = """
wales, cornwall, devon, dorset, somerset, hampshire, sussex, kent, surrey, essex, norfolk, suffolk,
yorkshire, lancashire, cumbria, northumberland, wiltshire, gloucestershire, oxfordshire, cotswolds,
london, manchester, lake district, scottish highlands, edinburgh, glasgow, cardiff
"""
_EUROPE = """
ireland, france, spain, portugal, italy, germany, greece, netherlands, belgium, switzerland,
austria, sweden, norway, finland, denmark, poland, hungary, czech, croatia, slovenia, romania,
bulgaria, alps, pyrenees, mediterranean, balkans, provence, sicily, sardinia, corsica,
crete, cyprus
"""
_ASIA = """
china, japan, thailand, vietnam, cambodia, laos, singapore, sri lanka, nepal, bhutan, bangladesh,
pakistan, taiwan, korea, sumatra, java, bali, sulawesi, philippines, myanmar, burma, himalayas,
sabah, sarawak
"""
_AUSTRALIA = """
sydney, melbourne, brisbane, perth, adelaide, darwin, tasmania, new south wales,
northern territory, port douglas
"""
_AFRICA = """
kenya, tanzania, uganda, south africa, ghana, nigeria, cameroon, congo, ethiopia, zambia, zimbabwe,
botswana, namibia, mozambique, morocco, egypt
"""
_CENTRAL_AMERICA = """
belize, guatemala, honduras, nicaragua, el salvador, yucatan, cancun
"""
_SOUTH_AMERICA = """
ecuador, chile, paraguay, uruguay, guyana, suriname, andes
"""
_CARIBBEAN = """
jamaica, bahamas, puerto rico, dominican republic, haiti, barbados, caribbean
"""


def _names(block: str) -> list[str]:
    """The comma-separated place names of a block."""
    return [p.strip() for p in block.replace("\n", " ").split(",") if p.strip()]


# place name -> region (a key of measure.REGIONS); measure's own aliases included
PLACE_REGIONS: dict[str, str] = {
    **{p: "north america" for p in _names(_NORTH_AMERICA)},
    **{p: "britain" for p in _names(_BRITAIN)},
    **{p: "europe" for p in _names(_EUROPE)},
    **{p: "asia" for p in _names(_ASIA)},
    **{p: "australia" for p in _names(_AUSTRALIA)},
    **{p: "africa" for p in _names(_AFRICA)},
    **{p: "central america" for p in _names(_CENTRAL_AMERICA)},
    **{p: "south america" for p in _names(_SOUTH_AMERICA)},
    **{p: "the americas" for p in _names(_CARIBBEAN)},
    **ALIASES,
}
