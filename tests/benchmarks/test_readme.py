from benchmarks import readme


def test_readme_results_match_the_json():
    section = readme.results_markdown()
    text = readme.README.read_text()
    assert readme.RESULTS_START in text and readme.RESULTS_END in text
    committed = text.split(readme.RESULTS_START, 1)[1].split(readme.RESULTS_END, 1)[0].strip()
    assert committed == section.strip(), "README results are stale: run python -m benchmarks.readme"
