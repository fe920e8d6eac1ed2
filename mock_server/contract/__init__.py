"""The contract as data: schemas/ and fixtures/ located, validated and loaded; profiles."""
