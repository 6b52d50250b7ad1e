"""Word lists and sentence templates of the demo corpus (Spanish news style), as data.

``|`` separates phrases, ``:`` the fields of a row, ``{slot}`` marks a slot filled from SLOTS.
"""

from __future__ import annotations

Phrases = tuple[str, ...]


def _t(text: str) -> Phrases:
    """Split a ``|``-separated string (line breaks count as spaces) into a tuple of phrases."""
    return tuple(" ".join(part.split()) for part in text.split("|"))


def _rows(text: str) -> tuple[Phrases, ...]:
    """Split ``|``-separated rows into tuples of ``:``-separated fields."""
    return tuple(tuple(field.strip() for field in row.split(":")) for row in _t(text))


def _domain(text: str) -> tuple[Phrases, Phrases, Phrases]:
    masculine, feminine, purposes = text.split("/")
    return _t(masculine), _t(feminine), _t(purposes)


# --- politics: "masculine objects / feminine objects / purposes" of each domain -----------
DOMAINS: dict[str, tuple[Phrases, Phrases, Phrases]] = {
    "vivienda": _domain("""decreto de ayudas al alquiler|plan de vivienda asequible|acuerdo con los
        promotores|aumento de las ayudas a la vivienda|programa de alquiler social|fondo de
        rehabilitación de edificios|proyecto de viviendas públicas / ley de vivienda|reforma de la
        ley del suelo|medida de control de los alquileres|subida de las ayudas a los jóvenes|línea
        de avales hipotecarios / facilitar el acceso a la vivienda|frenar la subida de los
        alquileres|construir viviendas públicas|ayudar a los jóvenes a emanciparse|rehabilitar los
        barrios antiguos"""),
    "empleo": _domain("""decreto de empleo juvenil|plan de empleo|acuerdo con los sindicatos|aumento
        del salario mínimo|programa de formación profesional|convenio con las empresas / reforma
        laboral|reducción de la jornada laboral|medida contra la precariedad|subida del salario
        mínimo|estrategia de empleo juvenil / reducir el paro juvenil|crear empleo de calidad|
        reducir la temporalidad|mejorar las condiciones de los trabajadores|apoyar a los
        autónomos"""),
    "sanidad": _domain("""plan de atención primaria|decreto sobre las listas de espera|acuerdo con
        las comunidades autónomas|aumento del presupuesto sanitario|protocolo contra la gripe / ley
        de salud mental|campaña de vacunación contra la gripe|reforma de la atención primaria|medida
        contra las listas de espera|estrategia contra el cáncer / reducir las listas de espera|
        reforzar la atención primaria|contratar más médicos|mejorar la salud mental de los jóvenes|
        proteger a los mayores"""),
    "fiscal": _domain("""presupuesto del próximo año|impuesto a la banca|aumento del gasto público|
        recorte de impuestos|paquete de medidas fiscales|plan de ajuste|decreto de ayudas a las
        familias|acuerdo de financiación autonómica / rebaja del IVA de los alimentos|subida de
        impuestos a las grandes fortunas|reforma fiscal|ley de presupuestos|medida de control del
        déficit / reducir el déficit público|aliviar la carga fiscal de las familias|financiar los
        servicios públicos|combatir la inflación|estimular el crecimiento económico"""),
    "energía": _domain("""plan de ahorro energético|decreto sobre el precio de la luz|acuerdo sobre
        energías renovables|aumento de las ayudas al autoconsumo|bono social eléctrico / ley de
        cambio climático|rebaja del precio de la luz|estrategia de transición energética|medida de
        apoyo al coche eléctrico / reducir las emisiones|abaratar la factura de la luz|impulsar las
        energías renovables|reducir la dependencia del gas|cumplir los objetivos climáticos"""),
    "transporte": _domain("""plan de movilidad sostenible|abono único de transporte|aumento de las
        frecuencias de cercanías|proyecto de ampliación del metro|descuento en el transporte
        público|acuerdo con los taxistas / ley de movilidad sostenible|zona de bajas emisiones|
        prórroga de los descuentos en el transporte|línea de autobús nocturno / reducir el tráfico
        en el centro|mejorar la calidad del aire|fomentar el uso del transporte público|conectar los
        barrios periféricos"""),
    "educación": _domain("""plan de becas|aumento de las becas universitarias|acuerdo con las
        universidades|programa de refuerzo escolar|decreto de enseñanzas mínimas / ley de educación|
        reforma universitaria|subida de las becas|medida contra el acoso escolar|rebaja de las tasas
        universitarias / reducir el abandono escolar|garantizar la igualdad de oportunidades|mejorar
        los resultados de los alumnos|facilitar el acceso a la universidad"""),
    "agricultura": _domain("""plan de ayudas al campo|acuerdo con los agricultores|aumento de las
        ayudas por la sequía|decreto contra la sequía|seguro agrario / ley de la cadena alimentaria|
        línea de ayudas a los ganaderos|medida sobre el agua de riego / paliar los efectos de la
        sequía|garantizar precios justos a los agricultores|proteger el medio rural|frenar la
        despoblación"""),
    "pensiones": _domain("""aumento de las pensiones|acuerdo sobre las pensiones|plan de
        sostenibilidad de las pensiones / reforma de las pensiones|subida de las pensiones|
        revalorización de las pensiones / garantizar el poder adquisitivo de los jubilados|asegurar
        la sostenibilidad del sistema"""),
    "seguridad": _domain("""plan contra la violencia machista|decreto de protección a las víctimas|
        acuerdo de cooperación policial|aumento de la plantilla de la Guardia Civil / ley de
        seguridad ciudadana|reforma del Código Penal|estrategia contra el ciberdelito|campaña contra
        los incendios forestales / proteger a las víctimas|combatir las estafas en internet|reforzar
        la seguridad en las fronteras|prevenir los incendios en verano"""),
}
MASCULINE_NOUNS = frozenset(np.split()[0] for masc, _, _ in DOMAINS.values() for np in masc)
FEMININE_NOUNS = frozenset(np.split()[0] for _, fem, _ in DOMAINS.values() for np in fem)
REGIONAL = "vivienda,sanidad,educación,transporte,agricultura"
# "subject:kind:domains:weight"; kind "gov" uses GOV_VERBS, "adv" ADV_VERBS; "*" = all domains
SUBJECTS = _rows("""el gobierno:gov:*:10|el Consejo de Ministros:gov:*:3|el Congreso:gov:*:3|
    el ayuntamiento de Madrid:gov:vivienda,transporte,energía:2|la Generalitat de Cataluña:gov:R:1|
    el Parlamento Europeo:gov:energía,agricultura,seguridad:1|la ministra de Sanidad:gov:sanidad:2|
    el ayuntamiento de Barcelona:gov:vivienda,transporte:1|el ministro del Interior:gov:seguridad:1|
    el ministro de Economía:gov:fiscal,pensiones,empleo:2|el Banco de España:adv:fiscal,pensiones:2|
    la Comisión Europea:gov:energía,fiscal,agricultura:2|la ministra de Educación:gov:educación:1|
    la ministra de Transición Ecológica:gov:energía:1|la ministra de Trabajo:gov:empleo,pensiones:2|
    los sindicatos:adv:empleo,pensiones,vivienda:1|el ministro de Agricultura:gov:agricultura:1|
    el ministro de Transportes:gov:transporte:1|la alcaldesa de Valencia:gov:vivienda:1|
    la ministra de Vivienda:gov:vivienda:1|la AIReF:adv:fiscal,pensiones:1|el Senado:gov:*:1|
    la patronal:adv:empleo,fiscal:1|la Comunidad de Madrid:gov:R:1|la Junta de Andalucía:gov:R:1|
    la Xunta de Galicia:gov:R:1|el Gobierno vasco:gov:R:1""")
GOV_VERBS = _t("""aprobó|aprobó|aprobó|aprobó|anunció|anunció|presentó|presentó|propuso|firmó|
    impulsó|rechazó|negoció|retiró""")
ADV_VERBS = _t("propuso|pidió|reclamó|defendió|exigió|recomendó")
# politics forms (weights 5, 3, 2, 2, 1); {o} is the object's gender ending (o / a)
POLITICS = _t("""{subject} {verb} {obj} para {purpose} {past} .|{past} , {subject} {verb} {obj}
    {gendered_tail} .|{subject} {verb} {obj} {plain_tail} .|según {source} , {subject} {verb} {obj}
    para {purpose} .|{subject} presentó en {city} {obj} para {purpose} .""")
REACTIONS = _rows("criticó:criticaron:-|rechazó:rechazaron:-|celebró:celebraron:+|apoyó:apoyaron:+")
CRITICS = _rows("""la oposición:sg|los sindicatos:pl|la patronal:sg|el Partido Popular:sg|
    las asociaciones de vecinos:pl|los socios del gobierno:pl|los consumidores:pl""")
NEG_REASONS = _t("""no incluye medidas concretas|llega demasiado tarde|carece de financiación
    suficiente|perjudica a las familias|no resuelve el problema de fondo|se aprobó sin diálogo""")
POS_REASONS = _t("""responde a una demanda histórica|beneficiará a miles de familias|supone un paso
    en la buena dirección|llega en el momento adecuado""")

# --- shared vocabulary --------------------------------------------------------------------
DAYS = _t("lunes|martes|miércoles|jueves|viernes|sábado|domingo")
MONTHS = _t("""enero|febrero|marzo|abril|mayo|junio|julio|agosto|septiembre|octubre|noviembre|
    diciembre""")
CITIES = _t("""Madrid|Barcelona|Valencia|Sevilla|Zaragoza|Málaga|Bilbao|Murcia|Palma|Valladolid|
    Vigo|Gijón|Granada|Alicante|Córdoba|Salamanca|Santander|Pamplona|Oviedo|Toledo|Cádiz|Almería|
    Logroño|Cáceres|Tarragona|Girona|Lleida|Huelva|Albacete|Vitoria""")
REGIONS = _t("""Galicia|Asturias|Cantabria|el País Vasco|Navarra|La Rioja|Aragón|Cataluña|la
    Comunidad Valenciana|Murcia|Andalucía|Extremadura|Castilla-La Mancha|Castilla y León|la
    Comunidad de Madrid|las islas Baleares|las islas Canarias""")
MALE_NAMES = _t("""Carlos|Javier|Pablo|Miguel|Jorge|Alberto|Luis|Antonio|Sergio|David|Daniel|Raúl|
    Álvaro|Fernando|Andrés|Diego|Hugo|Íñigo|Marcos|Rubén|Iván|Adrián|Joaquín|Ignacio|Tomás""")
FEMALE_NAMES = _t("""Lucía|María|Carmen|Laura|Elena|Marta|Ana|Isabel|Paula|Cristina|Sara|Irene|
    Beatriz|Pilar|Nuria|Alba|Claudia|Rocío|Silvia|Patricia|Teresa|Julia|Natalia|Raquel|Noelia""")
SURNAMES = _t("""García|Martínez|López|Sánchez|Pérez|Gómez|Fernández|Ruiz|Díaz|Moreno|Romero|
    Navarro|Torres|Domínguez|Vázquez|Ramos|Gil|Serrano|Blanco|Molina|Castro|Ortega|Rubio|Marín|
    Iglesias|Herrero|Medina|Garrido|Cortés|Lozano|Santana|Cano|Prieto|Méndez|Calvo|Vidal|Pascual|
    Campos|Vega|Fuentes|Carrasco|Caballero|Nieto|Aguilar|Pastor|Soler|Esteban|Bravo|Arias|Reyes""")
COUNTRIES = _t("""Francia|Alemania|Italia|Portugal|Serbia|Croacia|Argentina|Brasil|Estados Unidos|
    Grecia|Suecia|Países Bajos|México|Japón|Marruecos|Noruega""")

# --- economy, sports, culture, weather, health --------------------------------------------
# "indicator:number:source"
INDICATORS = _rows("""el paro:sg:el Ministerio de Trabajo|el IPC:sg:el INE|la inflación:sg:el INE|
    el PIB:sg:el Banco de España|el precio de la vivienda:sg:el INE|el consumo de los hogares:sg:
    el INE|el precio de la luz:sg:el operador del mercado|las exportaciones:pl:el Ministerio de
    Economía|las ventas del comercio minorista:pl:el INE|la llegada de turistas:sg:el INE|
    las matriculaciones de coches:pl:la patronal del sector""")
ECONOMY = _t("""{company} ganó {n} millones de euros en el {quarter} trimestre , un {pct} % {more}
    que el año anterior .|el Ibex 35 cerró la sesión con una subida del {pct} % impulsado por
    {sector} .|el Ibex 35 cerró la sesión con una caída del {pct} % arrastrado por {sector} .|
    {company} anunció {company_news} .|{company} anunció {company_news} .""")
# "team:home stadium"
TEAMS = _rows("""el Real Madrid:el Santiago Bernabéu|el Barcelona:el Camp Nou|el Valencia:Mestalla|
    el Atlético de Madrid:el Metropolitano|el Sevilla:el Sánchez-Pizjuán|el Osasuna:El Sadar|
    el Betis:el Benito Villamarín|el Athletic de Bilbao:San Mamés|la Real Sociedad:Anoeta|
    el Villarreal:el estadio de la Cerámica|el Celta de Vigo:Balaídos|el Getafe:el Coliseum|
    el Girona:Montilivi|el Mallorca:Son Moix|el Rayo Vallecano:Vallecas|el Alavés:Mendizorroza|
    el Espanyol:Cornellà|el Zaragoza:La Romareda|el Deportivo:Riazor|el Sporting:El Molinón""")
SPORTS = _t("""el tenista {man} se clasificó para {round} {tournament} tras vencer a {rival} .|la
    tenista {woman} se clasificó para {round} {tournament} tras vencer a {rival_f} .|la selección
    española de {team_sport} se clasificó para {competition} tras vencer a {country} .""")
CULTURE = _t("""{museum} inaugurará {fut} una exposición sobre {artist} .|el escritor {man} ganó el
    premio {book_prize} con una novela sobre {book_topic} .|la escritora {woman} ganó el premio
    {book_prize} con una novela sobre {book_topic} .|la nueva película del director {man} ganó
    {film_prize} .|la nueva película de la directora {woman} ganó {film_prize} .|{festival} reunirá
    a más de {crowd} personas {fut} .|el Teatro Real estrenará {fut} una producción de {opera} .""")
WEATHER = _t("""la AEMET prevé {phenomenon} en {region} {when} .|la AEMET prevé {phenomenon} en
    {region} {when} .|las temperaturas superarán los {hot} grados en {hot_city} {when} .|las
    temperaturas bajarán hasta los {cold} grados bajo cero en {cold_city} {when} .|Protección Civil
    activó la alerta {alert} en {region} .""")
HEALTH = _t("""{hospital} realizó con éxito {procedure} .|los casos de {disease} {trend} un {pct} %
    {period} en {region} , según el Ministerio de Sanidad .|{health_workers} convocaron una huelga
    en {region} {fut} para exigir {demand} .|un estudio {researcher} revela que {finding} .""")

SLOTS: dict[str, Phrases] = {
    "region": REGIONS,
    "country": COUNTRIES,
    "city": CITIES,
    "day": DAYS,
    "next_day": DAYS,
    "month": MONTHS,
    "next_month": MONTHS,
    "date": tuple(str(n) for n in range(1, 29)),
    "past": _t(
        "el pasado {day}|este {day}|la semana pasada|ayer|el {date} de {month}|a finales de {month}"
    ),
    "fut": _t("""el próximo {next_day}|la próxima semana|el próximo mes|en {next_month}|a partir del
        {date} de {next_month}|a principios del próximo año"""),
    "gendered_tail": _t("""que será debatid{o} en el Congreso {fut}|que ha sido criticad{o} por la
        oposición|que deberá ser ratificad{o} por el Senado|que ha sido bien recibid{o} por los
        sindicatos"""),
    "plain_tail": _t("""que entrará en vigor {fut}|que costará {n} millones de euros|que beneficiará
        a más de {k} millones de personas"""),
    "source": _t("fuentes del ministerio|varios medios|el portavoz del gobierno|la agencia EFE"),
    "company": _t("""Telefónica|Iberdrola|el Banco Santander|BBVA|Inditex|Repsol|Mercadona|
        CaixaBank|Endesa|Ferrovial|Naturgy|Mapfre|Aena|Acciona|Indra|Grifols|Meliá|Iberia|Renfe|
        Sabadell"""),
    "company_news": _t("""un plan de expansión en Latinoamérica|la apertura de {k} nuevas tiendas|la
        contratación de {n} trabajadores|un acuerdo salarial con sus empleados|una inversión de {n}
        millones de euros en {region}|la venta de su filial en {country}|un expediente de regulación
        de empleo|la compra de una empresa de {country}"""),
    "quarter": _t("primer|segundo|tercer|cuarto"),
    "more": _t("más|menos"),
    "sector": _t("los bancos|las eléctricas|las constructoras|el turismo|las tecnológicas"),
    "consequence": _t("""se aleja de los puestos europeos|sigue en puestos de descenso|pierde el
        liderato|complica su clasificación para la Champions|encadena tres derrotas seguidas"""),
    "goals": _t("un gol|dos goles|tres goles"),
    "draw": _t("cero|uno|dos|tres"),
    "round": _t("la final|las semifinales|los cuartos de final"),
    "tournament": _t("de Roland Garros|de Wimbledon|del Open de Australia|del Masters de Madrid"),
    "team_sport": _t("baloncesto|balonmano|waterpolo|fútbol femenino|hockey|voleibol"),
    "competition": _t("""la final del Mundial|las semifinales del Europeo|los Juegos Olímpicos|la
        fase final de la Liga de Naciones"""),
    "museum": _t("""el Museo del Prado|el Museo Reina Sofía|el Museo Thyssen|el IVAM de Valencia|el
        Guggenheim de Bilbao|el Museo de Bellas Artes de Sevilla|el Museo Picasso de Málaga"""),
    "artist": _t("""Goya|Velázquez|Picasso|Dalí|Miró|Sorolla|El Greco|Zurbarán|Murillo|Frida Kahlo|
        Maruja Mallo|Chillida|Tàpies|Rembrandt|Caravaggio|Tiziano"""),
    "book_prize": _t("Planeta|Nadal|Biblioteca Breve|Herralde|Alfaguara"),
    "book_topic": _t("""la Guerra Civil|la emigración|la vida en un pueblo de Castilla|la memoria
        familiar|la crisis de 2008|la amistad|un crimen en Madrid|la Transición|el exilio"""),
    "film_prize": _t("""la Palma de Oro en Cannes|el León de Oro en Venecia|el Oso de Oro en Berlín|
        la Concha de Oro en San Sebastián|la Biznaga de Oro en el Festival de Málaga"""),
    "festival": _t("""el Primavera Sound de Barcelona|el Mad Cool de Madrid|el BBK Live de Bilbao|el
        Sónar de Barcelona|el FIB de Benicàssim|el Resurrection Fest de Viveiro"""),
    "crowd": _t("50.000|80.000|100.000|200.000"),
    "opera": _t("La Traviata|Carmen|Tosca|Aida|La Bohème|Don Giovanni|Madama Butterfly"),
    "phenomenon": _t("""lluvias intensas|tormentas con granizo|nevadas en cotas bajas|fuertes rachas
        de viento|bancos de niebla|un descenso notable de las temperaturas|cielos despejados"""),
    "when": _t("""este fin de semana|mañana|durante los próximos días|a partir del jueves|hasta el
        domingo"""),
    "alert": _t("""amarilla por fuertes lluvias|naranja por calor extremo|roja por lluvias
        torrenciales|naranja por nevadas|amarilla por fuerte oleaje"""),
    "hot_city": _t("Sevilla|Córdoba|Badajoz|Jaén|Murcia|Zaragoza|Toledo|Ciudad Real"),
    "cold_city": _t("Burgos|Soria|León|Teruel|Ávila|Segovia|Cuenca|Huesca"),
    "hospital": _t("""el hospital La Paz|el hospital Gregorio Marañón|el hospital Clínic de
        Barcelona|el hospital Virgen del Rocío de Sevilla|el hospital La Fe de Valencia|el hospital
        de Cruces|el hospital Vall d'Hebron|el hospital Reina Sofía de Córdoba"""),
    "procedure": _t("""un trasplante de pulmón|un trasplante de corazón infantil|una operación
        pionera de columna|una cirugía robótica de próstata|un trasplante de cara|una operación
        fetal de espina bífida|un trasplante de médula"""),
    "disease": _t("gripe|covid|bronquiolitis|sarampión|neumonía|tos ferina"),
    "trend": _t("aumentaron|disminuyeron"),
    "period": _t("en la última semana|en el último mes|desde enero|respecto al año pasado"),
    "health_workers": _t("""los médicos de atención primaria|las enfermeras|los médicos residentes|
        los técnicos sanitarios|los pediatras"""),
    "demand": _t("""más personal|mejores salarios|una reducción de las guardias|el fin de la
        precariedad|más tiempo por paciente"""),
    "researcher": _t("""de la Universidad de Granada|de la Universidad Complutense|del CSIC|de la
        Universidad de Salamanca|del hospital Clínic de Barcelona|de la Universidad de Navarra"""),
    "finding": _t("""la dieta mediterránea reduce el riesgo cardiovascular|el ejercicio diario
        mejora la memoria|dormir poco aumenta el riesgo de diabetes|el uso excesivo de pantallas
        afecta al sueño de los niños|la contaminación agrava el asma infantil|caminar media hora al
        día alarga la vida|el aceite de oliva protege frente al deterioro cognitivo"""),
    "hot": tuple(str(n) for n in range(34, 45)),
    "cold": tuple(str(n) for n in range(2, 10)),
    "k": tuple(str(n) for n in range(2, 10)),
    "n": tuple(str(n) for n in range(100, 2100, 100)),
}
